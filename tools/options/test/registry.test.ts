/**
 * The option registry and every table derived from it: the generated files are current, and the
 * [tool.nx-pex] reader, the command line, the Nx schema, the target options, the engine's merge and
 * the writer options each take exactly the registry's options with the registry's kinds.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cliPexOptions, parseBuildArgs, SPECS } from '@nx-pex/cli';
import { mergeOptions, PEX_BUILD_OPTION_NAMES, writerOptions, type LayeredOptions } from '@nx-pex/engine';
import { contentPaths, kebabCase, NX_PEX_TOOL_KEYS, OPTIONS, parsePyproject, resolveOptionPaths, type OptionSpec } from '@nx-pex/project';
import { targetPexOptions } from '../../../plugins/nx-pex/src/executors/build/executor';
import { generatedFiles, REPO, schemaType, staleFiles } from '../src/generate';

const options = OPTIONS as readonly OptionSpec[];

/** A value of the option's kind that is not its default. */
function sample(o: OptionSpec): unknown {
  switch (o.kind.type) {
    case 'string':
      return o.paths ? 'some/dir' : 'x1';
    case 'strings':
      return o.paths ? ['a/one', 'b/two'] : ['a1', 'b2'];
    case 'bool':
      return o.cli?.sets ?? true;
    case 'int':
      return 3;
    case 'choice':
      return o.kind.choices[o.kind.choices.length - 1];
    case 'env':
      return { K: 'V=W' };
  }
}

/** The value as TOML. */
function toml(value: unknown): string {
  if (typeof value === 'object' && !Array.isArray(value)) {
    return `{ ${Object.entries(value as Record<string, string>).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ')} }`;
  }
  return JSON.stringify(value);
}

/** The command line that gives the option its sample value. */
function argv(o: OptionSpec): string[] {
  const flag = o.cli!.flags[0]!;
  const value = sample(o);
  switch (o.kind.type) {
    case 'bool':
      return [flag];
    case 'strings':
      return o.cli!.separator ? [flag, (value as string[]).join(o.cli!.separator)] : (value as string[]).flatMap((v) => [flag, v]);
    case 'env':
      return Object.entries(value as Record<string, string>).flatMap(([k, v]) => [flag, `${k}=${v}`]);
    default:
      return [flag, String(value)];
  }
}

/** The value with its paths resolved against `dir`, as every reader gives it. */
function resolved(o: OptionSpec, dir: string): unknown {
  const value = sample(o);
  if (!o.paths) return value;
  // An image base is a path only when written as one (./, ../, /): the sample is a reference.
  const one = (v: string) => (o.paths === 'path-or-ref' && !/^\.{0,2}\//.test(v) ? v : resolve(dir, v));
  return Array.isArray(value) ? value.map(one) : one(value as string);
}

describe('the generated files', () => {
  it('are what the registry gives (run `npm run options` after editing it)', () => {
    expect(staleFiles()).toEqual([]);
    for (const { path, text } of generatedFiles()) expect(readFileSync(join(REPO, path), 'utf8')).toBe(text);
  });

  it('the executor schema has exactly the target options, each of its kind', () => {
    const schema = JSON.parse(readFileSync(join(REPO, 'plugins/nx-pex/schemas/build.json'), 'utf8'));
    expect(Object.keys(schema.properties)).toEqual(options.filter((o) => o.nx).map((o) => o.field));
    for (const o of options.filter((x) => x.nx)) expect(schema.properties[o.field]).toMatchObject(schemaType(o.kind));
    expect(schema.additionalProperties).toBe(false);
  });
});

describe('the registry', () => {
  it('declares each option once, each flag once, with a kebab-case TOML key', () => {
    const fields = options.map((o) => o.field);
    expect(new Set(fields).size).toBe(fields.length);
    const flags = SPECS.flatMap((s) => [...s.names, ...(s.kind.type === 'bool' ? s.kind.negations : [])]);
    expect(new Set(flags).size).toBe(flags.length);
    for (const o of options) {
      expect(o.field).toMatch(/^[a-z][A-Za-z]*$/);
      expect(o.help.length).toBeGreaterThan(10);
      if (o.writer) expect(o.scope).toBe('pex');
      if (o.cli?.negations || o.cli?.sets !== undefined) expect(o.kind.type).toBe('bool');
    }
  });
});

describe('[tool.nx-pex]', () => {
  it('takes exactly the options marked toml, under their kebab-case keys, with their kinds', () => {
    const inToml = options.filter((o) => o.toml);
    expect(Object.keys(NX_PEX_TOOL_KEYS).sort()).toEqual(inToml.map((o) => kebabCase(o.field)).sort());
    for (const o of inToml) expect(NX_PEX_TOOL_KEYS[kebabCase(o.field)]).toEqual({ field: o.field, kind: o.kind });
  });

  it('reads a sample value of every option as that value', () => {
    const scripts = { scripts: '[project.scripts]\na1 = "m:f"\nb2 = "m:g"\n' };
    const text = [
      '[project]\nname = "app"\nversion = "1"\n',
      scripts.scripts,
      '[tool.nx-pex]',
      ...options.filter((o) => o.toml).map((o) => `${kebabCase(o.field)} = ${toml(sample(o))}`),
      '',
    ].join('\n');
    const project = parsePyproject(text, '/ws/app/pyproject.toml');
    expect(project.nxPex).toEqual(Object.fromEntries(options.filter((o) => o.toml).map((o) => [o.field, sample(o)])));
  });

  it('refuses a value of another kind, naming the key', () => {
    for (const o of options.filter((x) => x.toml)) {
      const wrong = o.kind.type === 'bool' ? '"yes"' : o.kind.type === 'env' ? '["x"]' : o.kind.type === 'strings' ? '"x"' : 'true';
      expect(() => parsePyproject(`[project]\nname = "app"\n[tool.nx-pex]\n${kebabCase(o.field)} = ${wrong}\n`, '/p/pyproject.toml')).toThrow(
        `[tool.nx-pex] ${kebabCase(o.field)}`,
      );
    }
  });
});

describe('cache inputs', () => {
  it('the paths of every option whose contents are inputs are named, resolved, inline JSON left out', () => {
    const config = Object.fromEntries(options.map((o) => [o.field, sample(o)]));
    const named = contentPaths({ ...config, completePlatforms: [...(config.completePlatforms as string[]), '{"marker_environment": {}}'] }, '/ws/app');
    const withPaths = options.filter((o) => o.cacheInput === 'contents' && o.paths);
    expect(withPaths.map((o) => o.field).sort()).toEqual(['completePlatforms', 'sources']);
    expect(named).toEqual({
      dirs: withPaths.filter((o) => o.paths === 'dir').flatMap((o) => resolved(o, '/ws/app') as string[]),
      files: withPaths.filter((o) => o.paths === 'json-or-file').flatMap((o) => resolved(o, '/ws/app') as string[]),
    });
  });
});

describe('the command line', () => {
  it('has the flags of every option with a CLI spelling, and no other registry option', () => {
    const registryKeys = new Set(options.map((o) => o.field));
    const fromRegistry = SPECS.filter((s) => registryKeys.has(s.key as string));
    expect(fromRegistry.map((s) => s.key)).toEqual(options.filter((o) => o.cli).map((o) => o.field));
    for (const o of options.filter((x) => x.cli)) {
      const spec = SPECS.find((s) => s.key === o.field)!;
      expect(spec.names).toEqual(o.cli!.flags);
    }
  });

  it('parses each flag into its option, and passes every PEX option on (paths resolved against the working directory)', () => {
    for (const o of options.filter((x) => x.cli)) {
      for (const flag of o.cli!.flags) {
        const a = parseBuildArgs(argv({ ...o, cli: { ...o.cli!, flags: [flag] } }));
        expect((a as Record<string, unknown>)[o.field]).toEqual(sample(o));
        for (const [k, v] of Object.entries(o.cli!.implies ?? {})) expect((a as Record<string, unknown>)[k]).toEqual(v);
        if (o.scope === 'pex' && !o.cli!.byCommand) {
          expect((cliPexOptions(a, '/cwd') as Record<string, unknown>)[o.field]).toEqual(resolved(o, '/cwd'));
        }
      }
      for (const flag of o.cli!.negations ?? []) {
        expect((parseBuildArgs([flag]) as Record<string, unknown>)[o.field]).toBe(!(o.cli!.sets ?? true));
      }
    }
  });
});

describe('target options and the engine', () => {
  const all = Object.fromEntries(options.map((o) => [o.field, sample(o)]));

  it('the executor passes on exactly the PEX options but scripts, paths resolved against the workspace root', () => {
    const pex = options.filter((o) => o.scope === 'pex' && o.field !== 'scripts');
    expect([...PEX_BUILD_OPTION_NAMES]).toEqual(pex.map((o) => o.field));
    expect(targetPexOptions(all, '/ws')).toEqual(Object.fromEntries(pex.map((o) => [o.field, resolved(o, '/ws')])));
  });

  it('the writer gets exactly the options with a writer field, under that field', () => {
    const out = writerOptions(targetPexOptions(all, '/ws')) as Record<string, unknown>;
    const withWriter = options.filter((o) => o.writer);
    expect(Object.keys(out).sort()).toEqual(withWriter.map((o) => o.writer!).sort());
    for (const o of withWriter) expect(out[o.writer!]).toEqual(resolved(o, '/ws'));
  });

  it('the merge keeps the options marked together as one, and takes every other option from the first layer that sets it', () => {
    const together = options.filter((o) => o.together === 'executable').map((o) => o.field);
    expect(together.sort()).toEqual(['entryPoint', 'script', 'scripts']);
    for (const field of together) {
      const first = { [field]: sample(options.find((o) => o.field === field)!) } as LayeredOptions;
      const second = { entryPoint: 'b:c', script: 'b', scripts: ['b'], compress: false } as LayeredOptions;
      expect(mergeOptions(first, second)).toEqual({ ...first, compress: false });
    }
    for (const o of options.filter((x) => x.scope === 'pex' && !x.together)) {
      const first = { [o.field]: sample(o) } as LayeredOptions;
      expect(mergeOptions(first, { [o.field]: 'other' } as LayeredOptions)).toEqual(first);
      expect(mergeOptions({}, first)).toEqual(first);
    }
  });
});

describe('paths among option values', () => {
  it('take an image base as a path only when it is written as one', () => {
    expect(resolveOptionPaths({ imageBase: './base.tar' }, '/ws')).toEqual({ imageBase: '/ws/base.tar' });
    expect(resolveOptionPaths({ imageBase: '/srv/base' }, '/ws')).toEqual({ imageBase: '/srv/base' });
    expect(resolveOptionPaths({ imageBase: 'python:3.11-slim' }, '/ws')).toEqual({ imageBase: 'python:3.11-slim' });
    expect(resolveOptionPaths({ imageBase: 'registry.example.com/base/python:3.11' }, '/ws')).toEqual({ imageBase: 'registry.example.com/base/python:3.11' });
  });
});
