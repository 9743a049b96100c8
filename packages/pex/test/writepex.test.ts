import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  loadRuntime,
  PexError,
  UserError,
  writePex,
  type PexDependency,
  type PexOptions,
  type PexRuntime,
  type PexSource,
} from '@nx-pex/pex';
import { cleanupTempDirs, makeWheel, pyZipInfo, run, runtimeWheelPath, tempDir, type FixtureWheel } from './support';

const SHEBANG = '#!/usr/bin/env python3';

interface Project {
  dir: string;
  wheels: FixtureWheel[];
  sources: PexSource[];
  deps: PexDependency[];
}

/** A service package plus two fixture wheels (greeting requires colorless). */
async function makeProject(): Promise<Project> {
  const dir = await tempDir('nx-pex-proj-');
  const wheels = [
    await makeWheel(join(dir, 'wheels'), 'greeting', '1.0', { 'greeting/__init__.py': 'import colorless\n\ndef hello():\n    return colorless.plain("hello from greeting")\n' }, ['colorless>=0.1']),
    await makeWheel(join(dir, 'wheels'), 'colorless', '0.2', { 'colorless.py': 'def plain(s):\n    return s\n' }),
  ];
  const src = join(dir, 'src');
  await mkdir(join(src, 'service_a'), { recursive: true });
  await writeFile(join(src, 'service_a/__init__.py'), '');
  await writeFile(
    join(src, 'service_a/main.py'),
    'import sys\nimport greeting\n\ndef main():\n    print(greeting.hello(), *sys.argv[1:])\n    return 0\n',
  );
  await chmod(join(src, 'service_a/main.py'), 0o755);
  await writeFile(join(src, 'service_a/.settings'), 'dotfiles are packed but not hashed\n');
  await writeFile(join(src, 'service_a/data.txt'), 'caf\u00e9\n');
  const sources: PexSource[] = ['service_a/__init__.py', 'service_a/main.py', 'service_a/.settings', 'service_a/data.txt'].map((p) => ({
    path: p,
    absPath: join(src, p),
  }));
  const deps = wheels.map((w) => ({ filename: w.filename, path: w.path, sha256: w.sha256 }));
  return { dir, wheels, sources, deps };
}

function options(runtime: PexRuntime, p: Project, extra: Partial<PexOptions> = {}): PexOptions {
  return {
    runtime,
    dependencies: p.deps,
    sources: p.sources,
    requirements: ['greeting'],
    entryPoint: 'service_a.main:main',
    shebang: SHEBANG,
    ...extra,
  };
}

async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

describe('writePex', () => {
  let runtime: PexRuntime;
  let project: Project;
  let out: string;
  let pex: string;
  let pexRoot: string;
  beforeAll(async () => {
    runtime = await loadRuntime(runtimeWheelPath());
    project = await makeProject();
    out = await tempDir('nx-pex-out-');
    pexRoot = join(out, 'pex_root');
    pex = join(out, 'dist', 'service-a.pex');
    await writePex(pex, options(runtime, project, { buildProperties: { git_sha: 'abc' } }));
  });
  afterAll(cleanupTempDirs);

  it('boots with the real pex runtime and runs the entry point', () => {
    const stdout = run(pex, ['a', 'b'], { env: { PEX_ROOT: pexRoot } }).check();
    expect(stdout).toBe('hello from greeting a b\n');
    // Running through python3 explicitly works the same.
    expect(run('python3', [pex], { env: { PEX_ROOT: pexRoot } }).check()).toBe('hello from greeting\n');
  });

  it('supports PEX_INTERPRETER=1 and the __pex__ import hook', () => {
    const stdout = run(pex, ['-c', 'import greeting, colorless, service_a.main; print(colorless.plain("ok"))'], {
      env: { PEX_ROOT: pexRoot, PEX_INTERPRETER: '1' },
    }).check();
    expect(stdout).toBe('ok\n');
    const hook = run('python3', ['-c', 'from __pex__ import greeting; print(greeting.hello())'], {
      env: { PEX_ROOT: pexRoot, PYTHONPATH: pex },
    }).check();
    expect(hook).toBe('hello from greeting\n');
  });

  it('is a valid zip for zipfile and zipimport, with absolute offsets after the shebang', async () => {
    run('python3', ['-c', 'import sys, zipfile; assert zipfile.ZipFile(sys.argv[1]).testzip() is None', pex]).check();
    run('python3', ['-c', 'import sys, zipimport; assert zipimport.zipimporter(sys.argv[1]).find_spec("__main__")', pex]).check();
    const bytes = await readFile(pex);
    expect(bytes.subarray(0, SHEBANG.length + 1).toString()).toBe(`${SHEBANG}\n`);
    // First local header right after the shebang; EOCD's central directory offset is absolute.
    expect(bytes.readUInt32LE(SHEBANG.length + 1)).toBe(0x04034b50);
    const eocd = bytes.length - 22;
    expect(bytes.readUInt32LE(eocd)).toBe(0x06054b50);
    expect(bytes.readUInt32LE(eocd + 16) + bytes.readUInt32LE(eocd + 12)).toBe(eocd);
    expect(bytes.readUInt32LE(bytes.readUInt32LE(eocd + 16))).toBe(0x02014b50);
    expect((await stat(pex)).mode & 0o777).toBe(0o755);
  });

  it("lays entries out in pex's order with fixed dates and modes", async () => {
    const entries = pyZipInfo(pex);
    const names = entries.map((e) => e.name);
    expect(new Set(entries.map((e) => e.date.join('-')))).toEqual(new Set(['1980-1-1-0-0-0']));
    expect(entries[0]!.offset).toBe(SHEBANG.length + 1);
    // Each file is preceded by its not-yet-written ancestor directories.
    const seen = new Set<string>();
    for (const n of names) {
      const parts = n.replace(/\/$/, '').split('/');
      for (let i = 1; i < parts.length; i++) expect(seen.has(parts.slice(0, i).join('/') + '/')).toBe(true);
      seen.add(n);
    }
    const files = names.filter((n) => !n.endsWith('/'));
    const python = JSON.parse(run('python3', ['-c', 'import json,sys; print(json.dumps(sorted(json.load(sys.stdin))))'], { input: JSON.stringify(files) }).check());
    expect(files).toEqual(python);
    const top = files.filter((n) => !n.startsWith('.bootstrap/'));
    expect(top).toEqual([
      '.deps/colorless-0.2-py3-none-any.whl',
      '.deps/greeting-1.0-py3-none-any.whl',
      'PEX-INFO',
      '__main__.py',
      '__pex__/__init__.py',
      'service_a/.settings',
      'service_a/__init__.py',
      'service_a/data.txt',
      'service_a/main.py',
    ]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('__main__.py')!.attr >>> 16).toBe(0o100755);
    expect(byName.get('service_a/main.py')!.attr >>> 16).toBe(0o100755);
    expect(byName.get('service_a/data.txt')!.attr >>> 16).toBe(0o100644);
    expect(byName.get('PEX-INFO')!.attr >>> 16).toBe(0o100644);
    expect(byName.get('.deps/')!.attr).toBe(((0o40755 << 16) | 0x10) >>> 0);
    // Wheels are stored, never recompressed; everything else is deflated.
    for (const e of entries) {
      if (e.name.endsWith('/') || e.name.startsWith('.deps/')) expect([e.name, e.compress]).toEqual([e.name, 0]);
      else expect([e.name, e.compress]).toEqual([e.name, 8]);
    }
  });

  it('writes PEX-INFO with the keys and hashes pex computes', async () => {
    const script =
      'import json, sys, zipfile\n' +
      'z = zipfile.ZipFile(sys.argv[1])\n' +
      'raw = z.read("PEX-INFO").decode("utf-8")\n' +
      'info = json.loads(raw)\n' +
      'main = z.read("__main__.py").decode("utf-8")\n' +
      'import hashlib\n' +
      'whl = {n[6:]: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist() if n.startswith(".deps/") and n != ".deps/"}\n' +
      'pex_hash = info.pop("pex_hash")\n' +
      'print(json.dumps(dict(raw=raw, info=info, pex_hash=pex_hash, main=main, whl=whl,\n' +
      '    redump=json.dumps(dict(info, pex_hash=pex_hash), sort_keys=True, separators=(",", ":")),\n' +
      '    recomputed=hashlib.sha1(json.dumps(info, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest())))';
    const r = JSON.parse(run('python3', ['-c', script, pex]).check());
    expect(r.raw).toBe(r.redump);
    expect(r.pex_hash).toBe(r.recomputed);
    expect(Object.keys(r.info).sort()).toEqual(
      [
        'bind_resource_paths', 'bootstrap_hash', 'build_properties', 'code_hash', 'deps_are_wheel_files', 'distributions',
        'emit_warnings', 'entry_point', 'excluded', 'ignore_errors', 'includes_tools', 'inherit_path', 'inject_args',
        'inject_env', 'inject_python_args', 'interpreter_constraints', 'interpreter_selection_strategy', 'max_install_jobs',
        'overridden', 'pex_path', 'pex_paths', 'requirements', 'strip_pex_env', 'venv', 'venv_bin_path', 'venv_copies',
        'venv_hermetic_scripts', 'venv_site_packages_copies', 'venv_system_site_packages',
      ].sort(),
    );
    expect(r.info.deps_are_wheel_files).toBe(true);
    expect(r.info.build_properties).toEqual({ git_sha: 'abc', pex_version: runtime.version });
    expect(r.info.requirements).toEqual(['greeting']);
    expect(r.info.entry_point).toBe('service_a.main:main');
    expect(r.info.distributions).toEqual(Object.fromEntries(project.wheels.map((w) => [w.filename, w.sha256])));
    expect(r.whl).toEqual(r.info.distributions);
    expect(r.info.bootstrap_hash).toBe(runtime.bootstrap.hash);

    // code_hash: sha1 of the concatenated sorted names, then the contents; dotfiles skipped.
    const hashed = ['service_a/__init__.py', 'service_a/data.txt', 'service_a/main.py'];
    const code = createHash('sha1').update(hashed.join(''));
    for (const p of hashed) code.update(await readFile(project.sources.find((s) => s.path === p)!.absPath));
    expect(r.info.code_hash).toBe(code.digest('hex'));

    const bootPy = runtime.pexBootPy;
    expect(r.main).toBe(
      `${SHEBANG}\n\n${bootPy}\n\nresult, should_exit, is_globals = boot(\n` +
        `    bootstrap_dir='.bootstrap',\n    pex_root='~/.cache/pex',\n    pex_hash='${r.pex_hash}',\n` +
        `    hermetic_boot=True,\n    has_interpreter_constraints=False,\n    pex_path=(),\n    is_venv=False,\n` +
        `    inject_python_args=(),\n)\nif should_exit:\n    sys.exit(0 if is_globals else result)\nelif is_globals:\n    globals().update(result)\n`,
    );
  });

  it('is deterministic across directories, times and umasks', async () => {
    const builds: Buffer[] = [];
    for (const [i, umask] of [0o022, 0o077].entries()) {
      const copy = await tempDir(`nx-pex-copy${i}-`);
      const sources: PexSource[] = [];
      for (const s of project.sources) {
        const dest = join(copy, 'somewhere', String(i), s.path);
        await mkdir(join(dest, '..'), { recursive: true });
        await copyFile(s.absPath, dest);
        await chmod(dest, (await stat(s.absPath)).mode & 0o777);
        await utimes(dest, 1_000_000 + i * 12345, 2_000_000 + i * 54321);
        sources.push({ path: s.path, absPath: dest });
      }
      const deps: PexDependency[] = [];
      await mkdir(join(copy, 'store'));
      for (const d of project.deps) {
        const dest = join(copy, 'store', d.filename);
        await copyFile(d.path, dest);
        deps.push({ ...d, path: dest });
      }
      const old = process.umask(umask);
      try {
        // Shuffle the input order too.
        await writePex(join(copy, 'out.pex'), options(runtime, { ...project, sources: sources.reverse(), deps: deps.reverse() }, { buildProperties: { git_sha: 'abc' } }));
      } finally {
        process.umask(old);
      }
      builds.push(await readFile(join(copy, 'out.pex')));
    }
    expect(builds[0]!.equals(builds[1]!)).toBe(true);
    expect(builds[0]!.equals(await readFile(pex))).toBe(true);
  });

  it('leaves no output and no temp file when a dependency cannot be read', async () => {
    const dir = await tempDir('nx-pex-atomic-');
    const target = join(dir, 'x.pex');
    const missing = { ...project.deps[0]!, path: join(dir, 'no-such.whl') };
    const err = await writePex(target, options(runtime, project, { dependencies: [missing] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain('no-such.whl');
    expect(await listDir(dir)).toEqual([]);
  });

  it('leaves no temp file and keeps the old PEX when a dependency fails mid-write', async () => {
    const dir = await tempDir('nx-pex-atomic-');
    const target = join(dir, 'x.pex');
    await writePex(target, options(runtime, project));
    const before = await readFile(target);
    // The wheel on disk no longer matches its recorded sha256: detected while it is streamed.
    const tampered = join(dir, 'store', project.deps[1]!.filename);
    await mkdir(join(dir, 'store'));
    await writeFile(tampered, Buffer.concat([await readFile(project.deps[1]!.path), Buffer.from('junk')]));
    const deps = [project.deps[0]!, { ...project.deps[1]!, path: tampered }];
    const err = await writePex(target, options(runtime, project, { dependencies: deps })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/colorless-0\.2-py3-none-any\.whl.*expected sha256/);
    expect(await listDir(dir)).toEqual(['store', 'x.pex']);
    expect((await readFile(target)).equals(before)).toBe(true);
  });

  it('checks the sha256 of a wheel read for its contents', async () => {
    const dir = await tempDir('nx-pex-tampered-read-');
    const tampered = join(dir, project.deps[1]!.filename);
    await writeFile(tampered, Buffer.concat([await readFile(project.deps[1]!.path), Buffer.from('junk')]));
    const deps = [project.deps[0]!, { ...project.deps[1]!, path: tampered }];
    for (const extra of [{ preInstallWheels: true }, { layout: 'packed' as const, validateEntryPoint: true }]) {
      const err = await writePex(join(dir, 'x.pex'), options(runtime, project, { dependencies: deps, ...extra })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/colorless-0\.2-py3-none-any\.whl.*expected sha256/);
    }
    expect(await listDir(dir)).toEqual([project.deps[1]!.filename]);
  });

  it('copies trusted store wheels without hashing them again, in every layout', async () => {
    const dir = await tempDir('nx-pex-trusted-');
    const trusted = project.deps.map((d) => ({ ...d, trusted: true }));
    const filesOf = async (root: string): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
        if (e.isFile()) out[join(e.parentPath ?? e.path, e.name).slice(root.length)] = createHash('sha256').update(await readFile(join(e.parentPath ?? e.path, e.name))).digest('hex');
      }
      return out;
    };
    for (const layout of ['zipapp', 'packed', 'loose'] as const) {
      const a = join(dir, `${layout}-checked`);
      const b = join(dir, `${layout}-trusted`);
      await writePex(a, options(runtime, project, { layout }));
      await writePex(b, options(runtime, project, { layout, dependencies: trusted }));
      if (layout === 'zipapp') expect((await readFile(a)).equals(await readFile(b))).toBe(true);
      else expect(await filesOf(b)).toEqual(await filesOf(a));
    }
    // Same size, other bytes: a trusted file is taken as it is; a checked one is refused.
    const swapped = join(dir, project.deps[1]!.filename);
    const original = await readFile(project.deps[1]!.path);
    await writeFile(swapped, Buffer.from(original).fill(0x20, original.length - 4));
    await writePex(join(dir, 'swapped.pex'), options(runtime, project, { dependencies: [trusted[0]!, { ...trusted[1]!, path: swapped }] }));
    const err = await writePex(join(dir, 'refused.pex'), options(runtime, project, { dependencies: [project.deps[0]!, { ...project.deps[1]!, path: swapped }] })).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/expected sha256/);
  });

  it('refuses archives that would need ZIP64', async () => {
    const dir = await tempDir('nx-pex-zip64-');
    const huge = join(dir, 'huge-1.0-py3-none-any.whl');
    await writeFile(huge, '');
    await truncate(huge, 2 ** 32); // sparse: no disk space used
    const dep = { filename: 'huge-1.0-py3-none-any.whl', path: huge, sha256: '0'.repeat(64) };
    const err = await writePex(join(dir, 'x.pex'), options(runtime, project, { dependencies: [dep] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PexError);
    expect((err as Error).message).toMatch(/ZIP64.*packed layout/);
    expect(await listDir(dir)).toEqual(['huge-1.0-py3-none-any.whl']);
  });

  it('rejects bad options with clear errors', async () => {
    const dir = await tempDir('nx-pex-bad-');
    const target = join(dir, 'x.pex');
    const cases: Array<[Partial<PexOptions>, RegExp]> = [
      [{ layout: 'spread' as never }, /layout must be one of/],
      [{ script: 'fancy' }, /either an entry point .* or a script/],
      [{ venv: true, includeTools: false }, /venv execution mode needs the pex tools/],
      [{ venvBinPath: 'prepend' }, /only applies to the venv execution mode/],
      [{ maxInstallJobs: -2 }, /maxInstallJobs/],
      [{ entryPoint: undefined, validateEntryPoint: true }, /no entry point was given/],
      [{ entryPoint: 'service_a.main:' }, /Entry point/],
      [{ sources: [{ path: '../escape.py', absPath: project.sources[0]!.absPath }] }, /'\.\.\/escape\.py'/],
      [{ sources: [{ path: 'PEX-INFO', absPath: project.sources[0]!.absPath }] }, /'PEX-INFO'/],
      [{ sources: [{ path: '.deps/x.py', absPath: project.sources[0]!.absPath }] }, /'\.deps\/x\.py'/],
      [{ shebang: '/usr/bin/env python3\nimport os' }, /shebang/],
      [{ dependencies: [{ ...project.deps[0]!, filename: 'greeting.tar.gz' }] }, /not a wheel file name/],
      [{ dependencies: [project.deps[0]!, project.deps[0]!] }, /given twice/],
    ];
    for (const [extra, message] of cases) {
      await expect(writePex(target, options(runtime, project, extra))).rejects.toThrow(message);
    }
    expect(await listDir(dir)).toEqual([]);
  });

  it('honours compress=false, includeTools, interpreter constraints and a runtime pex_root', async () => {
    const dir = await tempDir('nx-pex-opts-');
    const target = join(dir, 'tools.pex');
    const runtimeRoot = join(dir, 'baked_root');
    const result = await writePex(target, options(runtime, project, {
      compress: false,
      includeTools: true,
      interpreterConstraints: ['CPython>=3.8, <4', 'CPython>=3.8,<4'],
      runtimePexRoot: runtimeRoot,
    }));
    expect(result.pexInfo.includes_tools).toBe(true);
    expect(result.pexInfo.interpreter_constraints).toEqual(['CPython<4,>=3.8']);
    expect(result.pexInfo.pex_root).toBe(runtimeRoot);
    expect(result.bootstrapHash).toBe(runtime.bootstrapWithTools.hash);
    expect(result.bytes).toBe((await stat(target)).size);
    const entries = pyZipInfo(target);
    expect(entries.every((e) => e.compress === 0)).toBe(true);
    expect(entries.some((e) => e.name === '.bootstrap/pex/tools/main.py')).toBe(true);
    // The baked pex_root is used when PEX_ROOT is unset.
    expect(run(target, [], { env: { PEX_ROOT: undefined } }).check()).toBe('hello from greeting\n');
    expect((await readdir(runtimeRoot)).sort()).toContain('unzipped_pexes');
    const info = JSON.parse(run(target, ['info'], { env: { PEX_TOOLS: '1', PEX_ROOT: undefined } }).check());
    expect(info.pex_hash).toBe(result.pexHash);
    const main = run('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("__main__.py").decode())', target]).check();
    expect(main).toContain(`pex_root=${JSON.stringify(runtimeRoot).replace(/"/g, "'")},`);
    expect(main).toContain('has_interpreter_constraints=True,');
  });
});
