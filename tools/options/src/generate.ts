/**
 * The files generated from the option registry (`OPTIONS` in packages/project/src/option-registry.ts):
 * the Nx executor schema of `nx-pex:build` and the options reference, docs/options.md. They are
 * committed; `tools/options/test/registry.test.ts` fails when one is stale.
 *
 * Usage: npm run options            (rewrite them)
 *        npm run options -- --check (exit 1 naming each stale file)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kebabCase, OPTIONS, type OptionKind, type OptionSpec } from '@nx-pex/project';
import { SPECS } from '@nx-pex/cli';

export const REPO = join(__dirname, '..', '..', '..');
const options = OPTIONS as readonly OptionSpec[];

/** The option's description in the Nx schema: where it comes from in pex and Pants, its meaning and default. */
export function schemaDescription(o: OptionSpec): string {
  const origin = [o.pex && `pex ${o.pex}`, o.pants && `Pants ${o.pants}`].filter(Boolean).join('; ');
  const text = origin ? `${origin}. ${o.help}` : o.scope === 'pex' ? `nx-pex: ${o.help}` : o.help;
  return o.default === undefined ? text : `${text} Default: ${o.default}.`;
}

/** The JSON schema of a value of `kind`. */
export function schemaType(kind: OptionKind): Record<string, unknown> {
  switch (kind.type) {
    case 'string':
      return { type: 'string' };
    case 'strings':
      return { type: 'array', items: { type: 'string' } };
    case 'bool':
      return { type: 'boolean' };
    case 'int':
      return kind.minimum === undefined ? { type: 'integer' } : { type: 'integer', minimum: kind.minimum };
    case 'choice':
      return { type: 'string', enum: [...kind.choices] };
    case 'env':
      return { type: 'object', additionalProperties: { type: 'string' } };
  }
}

/** `plugins/nx-pex/schemas/build.json`. */
export function buildSchema(): string {
  const properties: Record<string, unknown> = {};
  for (const o of options.filter((x) => x.nx)) {
    const { type, ...rest } = schemaType(o.kind);
    properties[o.field] = { type, description: schemaDescription(o), ...rest };
  }
  const schema = {
    $schema: 'https://json-schema.org/draft-07/schema',
    title: 'nx-pex build',
    description:
      "Builds PEX files for a Python project from its lock. Generated from the option registry (packages/project/src/option-registry.ts) by `npm run options`: edit the registry, not this file. Every PEX option also has a [tool.nx-pex] key (kebab-case) in the project's pyproject.toml; target options win over it.",
    type: 'object',
    properties,
    additionalProperties: false,
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

function typeText(kind: OptionKind): string {
  switch (kind.type) {
    case 'string':
      return 'string';
    case 'strings':
      return 'list of strings';
    case 'bool':
      return 'true / false';
    case 'int':
      return kind.minimum === undefined ? 'integer' : `integer ≥ ${kind.minimum}`;
    case 'choice':
      return kind.choices.map((c) => `"${c}"`).join(' / ');
    case 'env':
      return 'table of strings';
  }
}

/** Text for a Markdown table cell: `|` escaped, and `<`/`>` outside code spans, so that `<script>.pex` is not taken for HTML. */
const cell = (text: string): string =>
  text
    .split('`')
    .map((part, i) => (i % 2 === 0 ? part.replace(/</g, '&lt;').replace(/>/g, '&gt;') : part))
    .join('`')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
const code = (text: string): string => `\`${text}\``;

function flagsText(o: OptionSpec): string {
  if (!o.cli) return '';
  const names = [...o.cli.flags, ...(o.cli.negations ?? [])];
  return names.map((n) => code(`${n}${o.cli!.metavar && !(o.cli!.negations ?? []).includes(n) ? ` ${o.cli!.metavar}` : ''}`)).join(', ');
}

const CACHE_TEXT = { value: 'value', contents: 'value and contents', none: 'no' } as const;

function table(rows: readonly OptionSpec[]): string[] {
  const out = [
    '| Target option | `[tool.nx-pex]` | Command line | Type | Default | pex / Pants | Nx cache input | Meaning |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const o of rows) {
    const origin = [o.pex && `pex ${code(o.pex)}`, o.pants && `Pants ${code(o.pants)}`].filter(Boolean).join('; ');
    out.push(
      `| ${o.nx ? code(o.field) : ''} | ${o.toml ? code(kebabCase(o.field)) : ''} | ${cell(flagsText(o))} | ${cell(typeText(o.kind))} | ${cell(o.default ?? '')} | ${cell(origin)} | ${CACHE_TEXT[o.cacheInput]} | ${cell(o.help)} |`,
    );
  }
  return out;
}

/** `docs/options.md`. */
export function optionsMarkdown(): string {
  const registryKeys = new Set(options.map((o) => o.field));
  const commandOnly = SPECS.filter((s) => !registryKeys.has(s.key as string));
  return [
    '# Options reference',
    '',
    '<!-- Generated from packages/project/src/option-registry.ts by `npm run options`; edit the registry, not this file. -->',
    '',
    'Every option is declared once, in the option registry (`OPTIONS` in `packages/project/src/option-registry.ts`).',
    'The `[tool.nx-pex]` reader, the `nx-pex build` flags, the `nx-pex:build` target options',
    '(`plugins/nx-pex/schemas/build.json`), the engine\'s merge and the options passed to the PEX writer are derived from it;',
    'so is this page. A PEX option set on the command line or as a target option wins over `[tool.nx-pex]`, which wins over',
    'the default; `entryPoint`, `script` and `scripts` travel together (the first place that sets any of them gives all three).',
    'Paths in `[tool.nx-pex]` are relative to the pyproject.toml, in target options to the workspace root, on the command line',
    'to the working directory. "Nx cache input" says what of an option the build\'s cache key covers: its value, the contents',
    'of the files it names as well, or nothing (it changes where the build runs, never what it writes).',
    '',
    '## PEX options',
    '',
    ...table(options.filter((o) => o.scope === 'pex')),
    '',
    '## Build settings',
    '',
    'Read by the build itself rather than merged across layers.',
    '',
    ...table(options.filter((o) => o.scope === 'build')),
    '',
    '## Command line only',
    '',
    'Flags of `nx-pex build` that have no target option or `[tool.nx-pex]` key.',
    '',
    '| Flag | Meaning |',
    '| --- | --- |',
    ...commandOnly.map((s) => {
      const names = [...s.names, ...(s.kind.type === 'bool' ? s.kind.negations : [])];
      const flags = names.map((n) => code(`${n}${s.metavar && !(s.kind.type === 'bool' && s.kind.negations.includes(n)) ? ` ${s.metavar}` : ''}`));
      return `| ${cell(flags.join(', '))} | ${cell(s.help)} |`;
    }),
    '',
  ].join('\n');
}

/** Each generated file, relative to the repository, and its text. */
export function generatedFiles(): Array<{ path: string; text: string }> {
  return [
    { path: 'plugins/nx-pex/schemas/build.json', text: buildSchema() },
    { path: 'docs/options.md', text: optionsMarkdown() },
  ];
}

/** The generated files whose committed text differs from what the registry gives. */
export function staleFiles(): string[] {
  return generatedFiles()
    .filter(({ path, text }) => {
      try {
        return readFileSync(join(REPO, path), 'utf8') !== text;
      } catch {
        return true;
      }
    })
    .map((f) => f.path);
}

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    for (const path of stale) process.stderr.write(`${path} is stale: run \`npm run options\`.\n`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const { path, text } of generatedFiles()) writeFileSync(join(REPO, path), text);
}
