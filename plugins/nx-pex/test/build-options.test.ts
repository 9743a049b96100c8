/**
 * `nx-pex build` with pex's flags: the compiled CLI against wheels served from a local index on
 * 127.0.0.1. Checks that flags reach PEX-INFO and the running PEX, that pex flags nx-pex does not
 * take are refused by name, conflicting options, requirements resolved without a lock (and each
 * way they can fail), requirements selected from a uv.lock, [tool.nx-pex], and the pex runtime
 * version option.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yazl from 'yazl';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { copyFixtureWheel, copyPinnedPex, exec, FIXTURE_WHEELS, projectToml, requireBuiltCli, runCli, uvLockText, writeWorkspace, type CliResult as Result, type WheelFile } from './support';

jest.setTimeout(180_000);

let scratch: string;
let wheelsDir: string;
let server: IndexServer;
let yankServer: IndexServer;
const wheels: Record<string, WheelFile> = {};

const cli = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> =>
  runCli(args, { cwd: opts.cwd ?? scratch, env: { PIP_INDEX_URL: server.url, NX_PEX_STORE: join(scratch, 'store'), ...opts.env } });

const noStack = (r: Result) => expect(r.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);

/** A small wheel with METADATA (Requires-Dist, Provides-Extra), modules and console scripts. */
async function wheel(
  name: string,
  version: string,
  opts: { requires?: string[]; extras?: string[]; files?: Record<string, string>; scripts?: Record<string, string> } = {},
): Promise<void> {
  const tag = 'py3-none-any';
  const filename = `${name}-${version}-${tag}.whl`;
  const distInfo = `${name}-${version}.dist-info`;
  const metadata = [
    'Metadata-Version: 2.1',
    `Name: ${name}`,
    `Version: ${version}`,
    ...(opts.extras ?? []).map((e) => `Provides-Extra: ${e}`),
    ...(opts.requires ?? []).map((r) => `Requires-Dist: ${r}`),
    '',
    '',
  ].join('\n');
  const entries: Array<[string, string]> = Object.entries(opts.files ?? { [`${name}/__init__.py`]: `__version__ = "${version}"\n` });
  if (opts.scripts) {
    entries.push([`${distInfo}/entry_points.txt`, `[console_scripts]\n${Object.entries(opts.scripts).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`]);
  }
  entries.push([`${distInfo}/METADATA`, metadata]);
  entries.push([`${distInfo}/WHEEL`, `Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: ${tag}\n`]);
  const record = entries
    .map(([p, c]) => `${p},sha256=${createHash('sha256').update(c).digest('base64url')},${Buffer.byteLength(c)}`)
    .concat(`${distInfo}/RECORD,,`)
    .join('\n');
  entries.push([`${distInfo}/RECORD`, `${record}\n`]);
  const zip = new yazl.ZipFile();
  for (const [p, c] of entries) zip.addBuffer(Buffer.from(c), p, { mtime: new Date(1980, 0, 1), mode: 0o644 });
  zip.end();
  const out = join(wheelsDir, filename);
  await new Promise<void>((resolve, reject) => {
    const ws = createWriteStream(out);
    ws.on('close', () => resolve());
    ws.on('error', reject);
    zip.outputStream.on('error', reject).pipe(ws);
  });
  const data = await readFile(out);
  wheels[`${name}==${version}`] = { filename, sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}

async function pexInfo(path: string): Promise<Record<string, any>> {
  const file = statSync(path).isDirectory() ? join(path, 'PEX-INFO') : path;
  if (file !== path) return JSON.parse(await readFile(file, 'utf8'));
  const { stdout } = await exec('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("PEX-INFO").decode())', path]);
  return JSON.parse(stdout);
}

async function zipNames(path: string): Promise<string[]> {
  const { stdout } = await exec('python3', ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', path]);
  return stdout.trim().split('\n');
}

const run = (pex: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  exec(pex, args, { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root'), ...env } });

const index = () => ['--no-pypi', '--index-url', server.url];

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-opts-'));
  wheelsDir = join(scratch, 'wheels');
  // The pinned pex wheel for the runtime, and an old one without pex_boot.py.
  await copyPinnedPex(wheelsDir);
  await wheel('app', '1.0', {
    requires: ['dep>=2', 'extra-only==1.0; extra == "more"', 'windows-only; sys_platform == "win32"'],
    extras: ['more'],
    files: {
      'app/__init__.py': '',
      'app/main.py':
        'import json, os, sys\nimport dep\n\ndef main():\n    print(json.dumps({"argv": sys.argv[1:], "env": os.environ.get("GREETING"), "dep": dep.__version__}))\n',
    },
    scripts: { 'app-cli': 'app.main:main' },
  });
  await wheel('dep', '2.0');
  await wheel('dep', '1.0');
  await wheel('needy', '1.0', { requires: ['dep>=2', 'leaf'] });
  await wheel('leaf', '1.0');
  await wheel('old', '1.0', { requires: ['dep<2'] });
  await wheel('gone', '1.0');
  const oldPex = readdirSync(FIXTURE_WHEELS).find((f) => f.startsWith('pex-2.1.100-') && f.endsWith('.whl'));
  if (!oldPex) throw new Error(`${FIXTURE_WHEELS} has no pex 2.1.100 wheel: run \`python3 tools/fixtures/fetch.py\` first.`);
  await copyFixtureWheel(wheelsDir, oldPex);
  server = await startIndexServer({ dir: wheelsDir });
  yankServer = await startIndexServer({ dir: wheelsDir, yanked: { [wheels['gone==1.0']!.filename]: 'broken build' } });
});

afterAll(async () => {
  await server?.close();
  await yankServer?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('requirements without a lock', () => {
  it('builds, and the flags reach PEX-INFO and the running PEX', async () => {
    const src = join(scratch, 'extra-src');
    await mkdir(join(src, 'conf'), { recursive: true });
    await writeFile(join(src, 'conf', 'settings.txt'), 'x=1\n');
    await writeFile(join(src, 'conf', 'réglages-é.txt'), 'non-ascii name\n');
    const out = join(scratch, 'out', 'app.pex');
    const res = await cli([
      'build', 'app==1.0', 'dep==2.0', ...index(),
      '-e', 'app.main:main',
      '-D', src,
      '--inject-args', '--port "8 0"', '--inject-args', 'x',
      '--inject-env', 'GREETING=hello=world',
      '--inject-python-args=-u',
      '--python-shebang', '/usr/bin/env python3',
      '--interpreter-constraint', 'CPython>=3.8,<4',
      '--no-strip-pex-env', '--no-emit-warnings', '--max-install-jobs', '2', '--inherit-path', 'fallback',
      '--interpreter-selection-strategy', 'newest',
      '-o', out,
    ]);
    expect(res.stderr).toMatch(/wrote/);
    expect(res.code).toBe(0);
    const info = await pexInfo(out);
    expect(info.entry_point).toBe('app.main:main');
    expect(info.inject_args).toEqual(['--port', '8 0', 'x']);
    expect(info.inject_env).toEqual({ GREETING: 'hello=world' });
    expect(info.inject_python_args).toEqual(['-u']);
    expect(info.interpreter_constraints).toEqual(['CPython<4,>=3.8']);
    expect(info.strip_pex_env).toBe(false);
    expect(info.emit_warnings).toBe(false);
    expect(info.max_install_jobs).toBe(2);
    expect(info.inherit_path).toBe('fallback');
    expect(info.interpreter_selection_strategy).toBe('newest');
    expect(info.requirements).toEqual(['app==1.0', 'dep==2.0']);
    expect(Object.keys(info.distributions).sort()).toEqual([wheels['app==1.0']!.filename, wheels['dep==2.0']!.filename]);
    const names = await zipNames(out);
    expect(names).toContain('conf/settings.txt');
    expect(names).toContain('conf/réglages-é.txt');
    expect((await readFile(out)).subarray(0, 24).toString()).toBe('#!/usr/bin/env python3\n' + 'P');
    const { stdout } = await run(out, ['y']);
    expect(JSON.parse(stdout)).toEqual({ argv: ['--port', '8 0', 'x', 'y'], env: 'hello=world', dep: '2.0' });
  });

  it('-c finds a console script among the distributions', async () => {
    const out = join(scratch, 'out', 'cli.pex');
    const res = await cli(['build', 'app==1.0', 'dep==2.0', ...index(), '-c', 'app-cli', '-o', out]);
    expect(res.code).toBe(0);
    expect((await pexInfo(out)).entry_point).toBe('app.main:main');
    expect(JSON.parse((await run(out)).stdout).dep).toBe('2.0');
  });

  it('a packed layout is a directory with PEX-INFO and __main__.py', async () => {
    const out = join(scratch, 'out', 'packed.pex');
    const res = await cli(['build', 'app==1.0', 'dep==2.0', ...index(), '-e', 'app.main:main', '--layout', 'packed', '-o', out]);
    expect(res.stderr).toMatch(/wrote/);
    expect(res.code).toBe(0);
    expect(statSync(out).isDirectory()).toBe(true);
    expect(existsSync(join(out, '__main__.py'))).toBe(true);
    expect((await pexInfo(out)).entry_point).toBe('app.main:main');
    // Its .deps/*.whl are the store's files, hard-linked: the output writes none of the wheels' bytes.
    const storeInodes = new Set(
      readdirSync(join(scratch, 'store', 'wheels', 'sha256'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => statSync(join(e.parentPath, e.name)).ino),
    );
    const deps = readdirSync(join(out, '.deps')).filter((n) => n.endsWith('.whl'));
    expect(deps.sort()).toEqual([wheels['app==1.0']!.filename, wheels['dep==2.0']!.filename].sort());
    for (const w of deps) expect(storeInodes.has(statSync(join(out, '.deps', w)).ino)).toBe(true);
    const { stdout } = await run('python3', [out, 'z']);
    expect(JSON.parse(stdout)).toMatchObject({ argv: ['z'], dep: '2.0' });
  });

  it('takes wheels from a find-links directory, which gives no hashes: each is hashed as it enters the store', async () => {
    const out = join(scratch, 'out', 'app-findlinks.pex');
    const res = await cli(['build', 'app==1.0', 'dep==2.0', '--no-pypi', '-f', wheelsDir, '-e', 'app.main:main', '-o', out], {
      env: { NX_PEX_STORE: join(scratch, 'store-findlinks') },
    });
    expect(res.code).toBe(0);
    for (const w of [wheels['app==1.0']!, wheels['dep==2.0']!]) {
      expect(res.stderr).toContain(`${w.filename}: `);
      expect(res.stderr).toContain(`computed sha256 ${w.sha256}`);
    }
    const info = await pexInfo(out);
    expect(info.distributions[wheels['dep==2.0']!.filename]).toBe(wheels['dep==2.0']!.sha256);
    const { stdout } = await run(out, []);
    expect(JSON.parse(stdout).dep).toBe('2.0');
  });

  it('an unpinned requirement is resolved: the newest version every requirement accepts', async () => {
    const out = join(scratch, 'out', 'loose.pex');
    const res = await cli(['build', 'app>=1', 'needy', ...index(), '-e', 'app.main:main', '-o', out]);
    expect(res.stderr).toMatch(/wrote/);
    expect(res.code).toBe(0);
    const info = await pexInfo(out);
    expect(info.requirements).toEqual(['app>=1', 'needy']);
    expect(Object.keys(info.distributions).sort()).toEqual(
      [wheels['app==1.0']!, wheels['dep==2.0']!, wheels['leaf==1.0']!, wheels['needy==1.0']!].map((w) => w.filename).sort(),
    );
    expect(JSON.parse((await run(out)).stdout).dep).toBe('2.0');
  });

  it('requirements that cannot hold together are explained as a chain', async () => {
    const res = await cli(['build', 'old==1.0', 'dep==2.0', ...index(), '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/old 1\.0 requires dep<2/);
    expect(res.stderr).toMatch(/you asked for dep==2\.0/);
    expect(res.stderr).toMatch(/so no version of dep fits/);
    noStack(res);
  });

  it('an extra brings its dependencies; one the index lacks is named with the index', async () => {
    const res = await cli(['build', 'app[more]==1.0', ...index(), '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/No project named "extra-only" on http:\/\/127\.0\.0\.1:\d+\/simple .*app 1\.0 requires extra-only==1\.0/);
    noStack(res);
  });

  it('a yanked file is taken only when pinned exactly, with a warning naming the reason', async () => {
    const loose = await cli(['build', 'gone>=1', '--no-pypi', '--index-url', yankServer.url, '-o', join(scratch, 'x.pex')]);
    expect(loose.code).toBe(1);
    expect(loose.stderr).toMatch(/all versions of gone are yanked: 1\.0/);
    const out = join(scratch, 'out', 'gone.pex');
    const pinned = await cli(['build', 'gone==1.0', '--no-pypi', '--index-url', yankServer.url, '-o', out]);
    expect(pinned.code).toBe(0);
    expect(pinned.stderr).toMatch(/gone-1\.0-py3-none-any\.whl \(gone 1\.0\) is yanked \(broken build\)/);
  });

  it('a version the index does not have is named with the versions it has', async () => {
    const res = await cli(['build', 'dep==9.9', ...index(), '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/you asked for dep==9\.9; so no version of dep fits \(==9\.9\) \(versions for this target: 2\.0, 1\.0\)/);
  });

  it('every requirement that does not parse is reported at once, with its position', async () => {
    const res = await cli(['build', 'app>>1', 'dep[', 'leaf', ...index(), '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/2 requirements cannot be used/);
    expect(res.stderr).toMatch(/"app>>1" is not a valid requirement/);
    expect(res.stderr).toMatch(/"dep\[" is not a valid requirement/);
    noStack(res);
  });

  it('-r reads requirement files, and pip options in them are refused by name', async () => {
    const reqs = join(scratch, 'reqs.txt');
    await writeFile(reqs, '# pinned\napp==1.0  # the app\n-r more.txt\n');
    await writeFile(join(scratch, 'more.txt'), 'dep==2.0\n');
    const out = join(scratch, 'out', 'r.pex');
    const ok = await cli(['build', '-r', reqs, ...index(), '-e', 'app.main:main', '-o', out]);
    expect(ok.code).toBe(0);
    expect((await pexInfo(out)).requirements).toEqual(['app==1.0', 'dep==2.0']);
    await writeFile(join(scratch, 'bad.txt'), 'app==1.0\n--no-binary :all:\n');
    const bad = await cli(['build', '-r', join(scratch, 'bad.txt'), ...index(), '-o', out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.txt:2: the pip option --no-binary is not supported in requirements files by nx-pex; remove it/);
  });
});

describe('flags', () => {
  it.each(['--scie', '--sh-boot', '--compile', '--resolve-local-platforms', '-P', '--exclude'])(
    "pex's %s is refused as not supported yet",
    async (flag) => {
      const res = await cli(['build', 'app==1.0', flag, 'x', '-o', join(scratch, 'x.pex')]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`pex's ${flag} is not supported by nx-pex yet`);
      noStack(res);
    },
  );

  it('a flag pex does not have either is unknown', async () => {
    const res = await cli(['build', '--frobnicate']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Unknown option '--frobnicate'/);
  });

  it('--help lists the flags, supported and not', async () => {
    const res = await cli(['build', '--help']);
    expect(res.code).toBe(0);
    for (const f of ['-r, --requirement', '--lock', '-D, --sources-directory', '-e, -m, --entry-point', '-c, --script', '-o, --output-file', '--layout',
      '--pre-install-wheels', '--no-pre-install-wheels', '--include-tools', '--inject-args', '--inject-env', '--python-shebang',
      '--interpreter-constraint', '--venv', '--no-compress', '--index-url', '--find-links', '--no-pypi', '--pex-version', '--project', '--platform', '--complete-platform']) {
      expect(res.stdout).toContain(f);
    }
    expect(res.stdout).toMatch(/not supported by nx-pex yet[^]*--resolve-local-platforms/);
    // Abbreviated platforms say how their marker environment is filled.
    expect(res.stdout).toMatch(/fills in os_name/);
  });

  it('an entry point and a script conflict', async () => {
    const res = await cli(['build', 'app==1.0', 'dep==2.0', ...index(), '-e', 'app.main:main', '-c', 'app-cli', '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/an entry point \(app\.main:main\) and a script \(app-cli\) are both given/);
    noStack(res);
  });

  it('a bad value for a choice is named', async () => {
    const res = await cli(['build', '--layout', 'zip', '-o', 'x']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--layout takes one of zipapp, packed, loose; given "zip"/);
  });

  it('-o is needed without --project', async () => {
    const res = await cli(['build', 'app==1.0']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/needs -o PATH/);
  });

  it('an over-long output path gives one clear message', async () => {
    const res = await cli(['build', '-e', 'os', ...index(), '-o', join(scratch, `${'x'.repeat(300)}.pex`)]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/ENAMETOOLONG|name too long/i);
    noStack(res);
  });
});

describe('the pex runtime version', () => {
  it('an old pex without pex_boot.py is a clear error', async () => {
    const res = await cli(['build', '-e', 'os', ...index(), '--pex-version', '2.1.100', '-o', join(scratch, 'old.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/pex runtime 2\.1\.100 .*cannot be embedded: .*has no pex\/pex_boot\.py/);
    noStack(res);
  });

  it('a version the index does not have is named', async () => {
    const res = await cli(['build', '-e', 'os', ...index(), '--pex-version', '2.0.0', '-o', join(scratch, 'none.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/pex runtime 2\.0\.0 .*No wheel of pex==2\.0\.0/);
  });

  it('the pinned version by name builds, and PEX-INFO records it', async () => {
    const out = join(scratch, 'out', 'pinned-runtime.pex');
    const res = await cli(['build', '-e', 'os', ...index(), '--pex-version', '2.105.2', '-o', out]);
    expect(res.code).toBe(0);
    expect((await pexInfo(out)).build_properties.pex_version).toBe('2.105.2');
  });
});

describe('a workspace project and a uv.lock', () => {
  let ws: string;
  /** The project's pyproject.toml, with `tool` (a [tool.*] table) after it. */
  const svcToml = (tool: string) => `${projectToml('svc', ['dep>=2'])}\n${tool}`;
  beforeAll(async () => {
    ws = await writeWorkspace(join(scratch, 'ws'), {
      project: 'svc',
      pyproject: svcToml(''),
      sources: {
        'data/greeting.txt': 'hi from a resource\n',
        'main.py':
          'import json, os, sys\nfrom importlib import resources\nimport dep\n\ndef main():\n' +
          '    text = resources.files("svc").joinpath("data/greeting.txt").read_text().strip()\n' +
          '    print(json.dumps({"argv": sys.argv[1:], "resource": text, "dep": dep.__version__}))\n',
      },
      lock: uvLockText({
        project: 'svc',
        dependencies: ['dep'],
        requiresDist: [{ name: 'dep', specifier: '>=2' }],
        registry: server.url,
        wheels: [{ name: 'dep', version: '2.0', file: wheels['dep==2.0']! }],
      }),
    });
  });

  const pyproject = (tool: string) => writeFile(join(ws, 'svc', 'pyproject.toml'), svcToml(tool));

  it('[tool.nx-pex] options apply, resources are included, and the command line wins', async () => {
    await pyproject('[tool.nx-pex]\ninject-args = ["--from-pyproject"]\ninject-env = { A = "1" }\nmax-install-jobs = 3\ninterpreter-selection-strategy = "newest"\n');
    const out = join(ws, 'dist', 'svc.pex');
    const res = await cli(['build', '--project', join(ws, 'svc'), '-o', out]);
    expect(res.code).toBe(0);
    let info = await pexInfo(out);
    expect(info.inject_args).toEqual(['--from-pyproject']);
    expect(info.inject_env).toEqual({ A: '1' });
    expect(info.max_install_jobs).toBe(3);
    expect(info.interpreter_selection_strategy).toBe('newest');
    expect(JSON.parse((await run(out)).stdout)).toEqual({ argv: ['--from-pyproject'], resource: 'hi from a resource', dep: '2.0' });
    const over = await cli(['build', '--project', join(ws, 'svc'), '-o', out, '--inject-args', '--from-cli']);
    expect(over.code).toBe(0);
    info = await pexInfo(out);
    expect(info.inject_args).toEqual(['--from-cli']);
    expect(info.max_install_jobs).toBe(3);
  });

  it('an unknown [tool.nx-pex] key names the key and the file', async () => {
    await pyproject('[tool.nx-pex]\ninject-arg = ["x"]\n');
    const res = await cli(['build', '--project', join(ws, 'svc'), '-o', join(ws, 'dist', 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/svc\/pyproject\.toml:\d+: \[tool\.nx-pex\] has an unknown key "inject-arg"/);
  });

  it('conflicting [tool.nx-pex] options are refused, naming the file', async () => {
    await pyproject('[tool.nx-pex]\nentry-point = "svc.main:main"\nscript = "svc"\n');
    const res = await cli(['build', '--project', join(ws, 'svc'), '-o', join(ws, 'dist', 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/svc\/pyproject\.toml \[tool\.nx-pex\]: an entry point .* and a script .* are both given/);
  });

  it('requirements select their packages from --lock', async () => {
    await pyproject('');
    const out = join(scratch, 'out', 'locked.pex');
    const res = await cli(['build', 'dep', '--lock', join(ws, 'uv.lock'), '-e', 'dep', '-o', out]);
    expect(res.stderr).toMatch(/wrote/);
    expect(res.code).toBe(0);
    const info = await pexInfo(out);
    expect(Object.keys(info.distributions)).toEqual([wheels['dep==2.0']!.filename]);
    expect(info.requirements).toEqual(['dep']);
    const missing = await cli(['build', 'requests', '--lock', join(ws, 'uv.lock'), '-o', out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/uv\.lock has no package requests/);
  });

  it('a workspace project named as a requirement brings its code from the lock', async () => {
    await pyproject('');
    const out = join(scratch, 'out', 'svc-req.pex');
    const res = await cli(['build', 'svc', '--lock', join(ws, 'uv.lock'), '-c', 'svc', '-o', out]);
    expect(res.stderr).toMatch(/wrote/);
    expect(res.code).toBe(0);
    expect(await zipNames(out)).toContain('svc/data/greeting.txt');
    const info = await pexInfo(out);
    expect(info.entry_point).toBe('svc.main:main');
    expect(info.requirements).toEqual(['dep>=2']);
    expect(JSON.parse((await run(out, ['z'])).stdout)).toEqual({ argv: ['z'], resource: 'hi from a resource', dep: '2.0' });
  });
});
