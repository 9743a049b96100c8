/**
 * How PEX files written here behave under the real pex runtime: the environment switches
 * (PEX_INTERPRETER, PEX_MODULE, PEX_SCRIPT, PEX_PATH, PEX_TOOLS), the `__pex__` import hook,
 * the layers, the layouts and venv mode; and the clear errors for bad input.
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRuntime, PexError, writeLayers, writePex, type PexOptions, type PexRuntime, type PexSource } from '@nx-pex/pex';
import { cleanupTempDirs, makeWheel, makeWheelFrom, run, runtimeWheelPath, tempDir, type FixtureWheel } from './support';

jest.setTimeout(180_000);

describe('behaviour of the PEX files written', () => {
  let runtime: PexRuntime;
  let dir: string;
  let wheels: FixtureWheel[];
  let sources: PexSource[];
  let other: PexSource[];
  let base: PexOptions;
  let app: string;
  let root: string;

  const src = async (into: string, files: Record<string, string>): Promise<PexSource[]> => {
    const out: PexSource[] = [];
    for (const [p, text] of Object.entries(files)) {
      const abs = join(into, p);
      await mkdir(join(abs, '..'), { recursive: true });
      await writeFile(abs, text);
      out.push({ path: p, absPath: abs });
    }
    return out;
  };

  beforeAll(async () => {
    runtime = await loadRuntime(runtimeWheelPath());
    dir = await tempDir('nx-pex-behaviour-');
    root = join(dir, 'pex_root');
    const w = join(dir, 'wheels');
    wheels = [
      await makeWheel(w, 'greeting', '1.0', { 'greeting/__init__.py': 'import colorless\n\ndef hello():\n    return colorless.plain("hello")\n' }, ['colorless']),
      await makeWheel(w, 'colorless', '0.2', { 'colorless.py': 'def plain(s):\n    return s\n' }),
      await makeWheelFrom(w, 'fancy-2.0-py3-none-any.whl', [
        { name: 'fancy/__init__.py', data: 'VERSION = "2.0"\n' },
        { name: 'fancy/cli.py', data: 'import sys\n\ndef main():\n    print("fancy main", sys.argv[1:])\n\nif __name__ == "__main__":\n    print("fancy as module")\n' },
        { name: 'fancy/table.json', data: '{"rows": 3}\n' },
        { name: 'fancy-2.0.data/scripts/fancy-run', data: '#!/usr/bin/python\nimport fancy\nprint("fancy-run", fancy.VERSION)\n', mode: 0o100755 },
        { name: 'fancy-2.0.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: fancy\nVersion: 2.0\n' },
        { name: 'fancy-2.0.dist-info/WHEEL', data: 'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
        { name: 'fancy-2.0.dist-info/entry_points.txt', data: '[console_scripts]\nfancy = fancy.cli:main\n' },
      ]),
    ];
    sources = await src(join(dir, 'src'), {
      'app/__init__.py': '',
      'app/main.py':
        'import sys, pkgutil\nimport greeting, fancy\n\ndef main():\n' +
        '    page = pkgutil.get_data("app", "templates/page.html").decode()\n' +
        '    print(greeting.hello(), fancy.VERSION, page.strip(), sys.argv[1:])\n',
      'app/templates/page.html': '<p>page</p>\n',
    });
    other = await src(join(dir, 'other'), { 'other_app.py': 'import greeting\n\ndef run():\n    print("other", greeting.hello())\n' });
    base = {
      runtime,
      dependencies: wheels.map((x) => ({ filename: x.filename, path: x.path, sha256: x.sha256 })),
      sources,
      requirements: ['fancy', 'greeting'],
      entryPoint: 'app.main:main',
      shebang: '/usr/bin/env python3',
    };
    app = join(dir, 'app.pex');
    await writePex(app, { ...base, preInstallWheels: true, includeTools: true });
  });
  afterAll(cleanupTempDirs);

  const env = (extra: Record<string, string> = {}) => ({ env: { PEX_ROOT: root, ...extra } });

  it('runs the entry point with resources', () => {
    expect(run(app, ['x'], env()).check()).toBe("hello 2.0 <p>page</p> ['x']\n");
  });

  it('honours PEX_INTERPRETER, PEX_MODULE and PEX_SCRIPT', () => {
    expect(run(app, ['-c', 'import fancy, greeting; print(greeting.hello(), fancy.VERSION)'], env({ PEX_INTERPRETER: '1' })).check()).toBe('hello 2.0\n');
    expect(run(app, [], env({ PEX_MODULE: 'fancy.cli' })).check()).toBe('fancy as module\n');
    expect(run(app, ['a'], env({ PEX_MODULE: 'fancy.cli:main' })).check()).toBe("fancy main ['a']\n");
    expect(run(app, ['b'], env({ PEX_SCRIPT: 'fancy' })).check()).toBe("fancy main ['b']\n");
    expect(run(app, [], env({ PEX_SCRIPT: 'fancy-run' })).check()).toBe('fancy-run 2.0\n');
  });

  it('imports through the __pex__ hook with the PEX on PYTHONPATH', () => {
    const out = run('python3', ['-c', 'import __pex__.app.main as m, fancy; m.main(); print(fancy.__file__.endswith("fancy/__init__.py"))'], env({ PYTHONPATH: app })).check();
    expect(out).toBe('hello 2.0 <p>page</p> []\nTrue\n');
  });

  it('serves PEX_TOOLS info and venv with separate deps and srcs scopes', () => {
    const info = JSON.parse(run(app, ['info'], env({ PEX_TOOLS: '1' })).check()) as Record<string, unknown>;
    expect(info.entry_point).toBe('app.main:main');
    expect(info.includes_tools).toBe(true);
    const venv = join(dir, 'venv');
    run(app, ['venv', '--scope=deps', venv], env({ PEX_TOOLS: '1' })).check();
    expect(run(join(venv, 'bin/python'), ['-c', 'import fancy, greeting; print("deps ok")']).check()).toBe('deps ok\n');
    expect(run(join(venv, 'bin/python'), ['-c', 'import app']).status).not.toBe(0);
    run(app, ['venv', '--scope=srcs', venv], env({ PEX_TOOLS: '1' })).check();
    expect(run(join(venv, 'pex'), ['v']).check()).toBe("hello 2.0 <p>page</p> ['v']\n");
    expect(run(join(venv, 'bin/fancy'), ['c']).check()).toBe("fancy main ['c']\n");
  });

  it('refuses PEX_TOOLS without tools, like pex', () => {
    const plain = join(dir, 'plain.pex');
    return writePex(plain, base).then(() => {
      const r = run(plain, ['info'], env({ PEX_TOOLS: '1' }));
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/include-tools/);
    });
  });

  it('runs packed and loose layouts, wheels and pre-installed, and venv mode', async () => {
    for (const [layout, pre] of [['packed', false], ['packed', true], ['loose', false], ['loose', true]] as const) {
      const out = join(dir, `${layout}-${pre}`);
      await writePex(out, { ...base, layout, preInstallWheels: pre });
      expect(run(join(out, 'pex'), [layout], env()).check()).toBe(`hello 2.0 <p>page</p> ['${layout}']\n`);
      expect(run('python3', [out, 'again'], env()).check()).toBe("hello 2.0 <p>page</p> ['again']\n");
      // Rebuilding replaces the old directory.
      await writePex(out, { ...base, layout, preInstallWheels: pre, entryPoint: 'fancy.cli:main' });
      expect(run(join(out, 'pex'), ['z'], env()).check()).toBe("fancy main ['z']\n");
    }
    const venvPex = join(dir, 'venv.pex');
    await writePex(venvPex, { ...base, venv: true, venvBinPath: 'prepend', injectArgs: ['--from-inject'], injectEnv: { APP_FLAVOUR: 'venv' } });
    expect(run(venvPex, ['x'], env()).check()).toBe("hello 2.0 <p>page</p> ['--from-inject', 'x']\n");
    expect(run(venvPex, ['-c', 'import os, sys; print(os.environ["APP_FLAVOUR"], sys.prefix != sys.base_prefix)'], env({ PEX_INTERPRETER: '1' })).check()).toBe('venv True\n');
  });

  it('writes layers that PEX_PATH joins, with a deps layer shared by apps with the same closure', async () => {
    const a = await writeLayers(join(dir, 'layers-a'), { ...base, preInstallWheels: true });
    const b = await writeLayers(join(dir, 'layers-b'), { ...base, sources: other, entryPoint: 'other_app:run', injectArgs: ['--only-b'] });
    // preInstallWheels differs between a and b, so build c like b but pre-installed for the identity check.
    const c = await writeLayers(join(dir, 'layers-c'), { ...base, sources: other, entryPoint: 'other_app:run', preInstallWheels: true });
    expect((await readFile(a.deps)).equals(await readFile(c.deps))).toBe(true);
    expect((await readFile(a.srcs)).equals(await readFile(c.srcs))).toBe(false);
    expect(a.srcsResult.pexInfo.distributions).toEqual({});
    expect(a.depsResult.pexInfo.entry_point).toBeUndefined();
    expect(a.depsResult.pexInfo.code_hash).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    expect(run(a.srcs, ['l'], env({ PEX_PATH: a.deps })).check()).toBe("hello 2.0 <p>page</p> ['l']\n");
    expect(run(b.srcs, [], env({ PEX_PATH: b.deps })).check()).toBe('other hello\n');
    expect(run(c.srcs, [], env({ PEX_PATH: a.deps })).check()).toBe('other hello\n');
    // A console script becomes the sources layer's entry point.
    const s = await writeLayers(join(dir, 'layers-s'), { ...base, entryPoint: undefined, script: 'fancy' });
    expect(run(s.srcs, ['s'], env({ PEX_PATH: s.deps })).check()).toBe("fancy main ['s']\n");
  });

  it('validates entry points and scripts at build time', async () => {
    const out = join(dir, 'bad.pex');
    await expect(writePex(out, { ...base, entryPoint: 'app.missing:main', validateEntryPoint: true })).rejects.toThrow(
      /module 'app\.missing' is neither among the PEX's sources nor in any of its distributions/,
    );
    await expect(writePex(out, { ...base, entryPoint: 'app.main:nope', validateEntryPoint: true })).rejects.toThrow(/does not define 'nope'/);
    await expect(writePex(out, { ...base, entryPoint: undefined, script: 'nope' })).rejects.toThrow(
      /Could not find script 'nope'.*fancy \(fancy entry point\), fancy-run \(fancy script\)/,
    );
    await writePex(out, { ...base, entryPoint: 'fancy.cli:main', validateEntryPoint: true });
    await writePex(out, { ...base, entryPoint: 'greeting', validateEntryPoint: true });
    const err = await writePex(out, { ...base, entryPoint: 'app.missing', validateEntryPoint: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PexError);
  });

  it('packs non-ASCII paths like pex and refuses over-long names', async () => {
    const extra = await src(join(dir, 'intl'), { 'caf\u00e9.py': 'def main():\n    print("caf\u00e9 ok")\n' });
    const out = join(dir, 'intl.pex');
    await writePex(out, { ...base, sources: [...sources, ...extra], entryPoint: 'caf\u00e9:main' });
    expect(run(out, [], env()).check()).toBe('caf\u00e9 ok\n');
    const long = [{ path: `${'x'.repeat(300)}.py`, absPath: sources[0]!.absPath }];
    await expect(writePex(out, { ...base, sources: long })).rejects.toThrow(/too long/);
  });
});
