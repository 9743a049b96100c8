/**
 * `nx-pex build` without a lock, in pex's requirement forms: sdists built into wheels once (with
 * their own PEP 517 backend, here an in-tree one so the isolated build needs no index), local
 * project directories, wheel files as arguments, `name @ file://`, `--no-transitive`,
 * `--constraints`, `--pre`, `--only-binary`, and `-e` lines in requirements files; against a
 * local index on 127.0.0.1.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { itWith, pexBinary } from '@nx-pex/testkit';
import { copyPinnedPex, exec, requireBuiltCli, runCli, type CliResult as Result } from './support';

jest.setTimeout(240_000);

let scratch: string;
let wheelsDir: string;
let server: IndexServer;

const cli = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> =>
  runCli(args, { cwd: opts.cwd ?? scratch, env: { PIP_INDEX_URL: server.url, NX_PEX_STORE: join(scratch, 'store'), ...opts.env } });
const index = () => ['--no-pypi', '--index-url', server.url];
const noStack = (r: Result) => expect(r.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);

async function pexInfo(path: string): Promise<Record<string, any>> {
  const { stdout } = await exec('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("PEX-INFO").decode())', path]);
  return JSON.parse(stdout);
}
const run = (pex: string, args: string[] = []) => exec(pex, args, { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });

// A PEP 517 backend kept in the project (backend-path), so that pip's isolated build installs nothing.
const BACKEND = String.raw`
import base64, hashlib, json, os, zipfile

def _cfg():
    with open("wheel.json") as f:
        return json.load(f)

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    c = _cfg()
    if c.get("fail"):
        raise SystemExit("compiler exploded: " + c["fail"])
    name, version, tag = c["name"], c["version"], c.get("tag", "py3-none-any")
    di = "%s-%s.dist-info" % (name, version)
    files = dict(c.get("files", {}))
    files[di + "/METADATA"] = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s\n" % (
        name, version, "".join("Requires-Dist: %s\n" % r for r in c.get("requires", [])))
    files[di + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: %s\n" % tag
    if c.get("scripts"):
        files[di + "/entry_points.txt"] = "[console_scripts]\n" + "".join("%s = %s\n" % kv for kv in c["scripts"].items())
    def digest(d):
        return base64.urlsafe_b64encode(hashlib.sha256(d.encode()).digest()).rstrip(b"=").decode()
    record = ["%s,sha256=%s,%d" % (p, digest(d), len(d.encode())) for p, d in files.items()] + [di + "/RECORD,,"]
    files[di + "/RECORD"] = "\n".join(record) + "\n"
    fn = "%s-%s-%s.whl" % (name, version, tag)
    with zipfile.ZipFile(os.path.join(wheel_directory, fn), "w", zipfile.ZIP_DEFLATED) as z:
        for p, d in sorted(files.items()):
            z.writestr(p, d)
    return fn
`;

interface ProjectSpec {
  name: string;
  version: string;
  tag?: string;
  requires?: string[];
  files?: Record<string, string>;
  scripts?: Record<string, string>;
  fail?: string;
}

/** A project directory built by the in-tree backend. */
async function project(dir: string, spec: ProjectSpec): Promise<void> {
  await mkdir(join(dir, '_backend'), { recursive: true });
  await writeFile(join(dir, '_backend', 'simple_backend.py'), BACKEND);
  await writeFile(
    join(dir, 'pyproject.toml'),
    `[build-system]\nrequires = []\nbuild-backend = "simple_backend"\nbackend-path = ["_backend"]\n\n[project]\nname = "${spec.name}"\nversion = "${spec.version}"\n`,
  );
  await writeFile(join(dir, 'wheel.json'), JSON.stringify({ files: { [`${spec.name}/__init__.py`]: `__version__ = "${spec.version}"\n` }, ...spec }));
  await writeFile(join(dir, 'PKG-INFO'), `Metadata-Version: 2.1\nName: ${spec.name}\nVersion: ${spec.version}\n`);
}

/** An sdist of such a project, in the index's directory. */
async function sdist(spec: ProjectSpec): Promise<string> {
  const src = join(scratch, 'sdist-src', `${spec.name}-${spec.version}`);
  await project(src, spec);
  const out = join(wheelsDir, `${spec.name}-${spec.version}.tar.gz`);
  await exec('python3', ['-c', 'import sys, tarfile, os\nwith tarfile.open(sys.argv[1], "w:gz") as t: t.add(sys.argv[2], arcname=os.path.basename(sys.argv[2]))', out, src]);
  return out;
}

/** A wheel with Requires-Dist and a RECORD, made by the in-tree backend's code. */
async function wheel(name: string, version: string, requires: string[] = [], files?: Record<string, string>): Promise<void> {
  const dir = join(scratch, 'wheel-src', `${name}-${version}`);
  await project(dir, { name, version, requires, ...(files ? { files } : {}) });
  await exec('python3', ['-c', 'import sys; sys.path.insert(0, "_backend"); import simple_backend; simple_backend.build_wheel(sys.argv[1])', wheelsDir], { cwd: dir });
}

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-resolve-'));
  wheelsDir = join(scratch, 'wheels');
  await mkdir(wheelsDir, { recursive: true });
  await copyPinnedPex(wheelsDir);
  await wheel('dep', '1.0');
  await wheel('dep', '2.0');
  await wheel('app', '1.0', ['dep>=2'], {
    'app/__init__.py': '',
    'app/main.py': 'import dep, sys\n\ndef main():\n    print("app with dep", dep.__version__)\n',
  });
  await wheel('loose', '1.0', ['dep']);
  await wheel('beta', '1.0');
  await wheel('beta', '2.0b1');
  await sdist({ name: 'sdistonly', version: '0.6.2', requires: ['dep'] });
  await sdist({ name: 'broken', version: '1.0', fail: 'missing Python.h' });
  await sdist({ name: 'native', version: '1.0', tag: 'cp311-cp311-win_amd64' });
  server = await startIndexServer({ dir: wheelsDir });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('sdists', () => {
  it('an sdist-only dependency is built once with its own backend, and cached by its sha256 and the target', async () => {
    const out = join(scratch, 'out', 'sdist.pex');
    const first = await cli(['build', 'sdistonly==0.6.2', ...index(), '-o', out]);
    expect(first.stderr).toMatch(/Building a wheel from sdistonly-0\.6\.2\.tar\.gz/);
    expect(first.code).toBe(0);
    const info = await pexInfo(out);
    expect(Object.keys(info.distributions).sort()).toEqual(['dep-2.0-py3-none-any.whl', 'sdistonly-0.6.2-py3-none-any.whl']);
    const { stdout } = await run(out, ['-c', 'import sdistonly, dep; print(sdistonly.__version__, dep.__version__)']);
    expect(stdout.trim()).toBe('0.6.2 2.0');
    expect(readdirSync(join(scratch, 'store', 'built')).length).toBe(1);
    const again = await cli(['build', 'sdistonly==0.6.2', ...index(), '-o', join(scratch, 'out', 'sdist2.pex')]);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/Building a wheel/);
    expect((await pexInfo(join(scratch, 'out', 'sdist2.pex'))).distributions).toEqual(info.distributions);
  });

  it('a locked package with only an sdist is built too, verified against the lock', async () => {
    const digest = async (f: string) => {
      const data = await readFile(join(wheelsDir, f));
      return { sha256: require('node:crypto').createHash('sha256').update(data).digest('hex') as string, size: data.length };
    };
    const files = server.url.replace(/\/simple\/?$/, '/files');
    const sd = await digest('sdistonly-0.6.2.tar.gz');
    const dep = await digest('dep-2.0-py3-none-any.whl');
    const lock = join(scratch, 'sdist-lock', 'uv.lock');
    await mkdir(dirname(lock), { recursive: true });
    const text = (badHash: boolean) =>
      [
        'version = 1',
        'revision = 3',
        'requires-python = ">=3.8"',
        '',
        '[[package]]',
        'name = "sdistonly"',
        'version = "0.6.2"',
        `source = { registry = "${server.url}" }`,
        'dependencies = [{ name = "dep" }]',
        `sdist = { url = "${files}/sdistonly-0.6.2.tar.gz", hash = "sha256:${badHash ? '0'.repeat(64) : sd.sha256}", size = ${sd.size} }`,
        '',
        '[[package]]',
        'name = "dep"',
        'version = "2.0"',
        `source = { registry = "${server.url}" }`,
        `wheels = [{ url = "${files}/dep-2.0-py3-none-any.whl", hash = "sha256:${dep.sha256}", size = ${dep.size} }]`,
        '',
      ].join('\n');
    await writeFile(lock, text(false));
    const out = join(scratch, 'out', 'locked-sdist.pex');
    const res = await cli(['build', 'sdistonly', '--lock', lock, ...index(), '-o', out]);
    expect(res.code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions).sort()).toEqual(['dep-2.0-py3-none-any.whl', 'sdistonly-0.6.2-py3-none-any.whl']);
    await writeFile(lock, text(true));
    const bad = await cli(['build', 'sdistonly', '--lock', lock, ...index(), '-o', out], { env: { NX_PEX_STORE: join(scratch, 'store-bad-sdist') } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/sdistonly-0\.6\.2\.tar\.gz/);
    expect(bad.stderr).toContain('0'.repeat(64));
    noStack(bad);
  });

  it('an sdist file named as an argument (a bare file name, as pip takes it) is built', async () => {
    const out = join(scratch, 'out', 'sdist-file.pex');
    const res = await cli(['build', 'sdistonly-0.6.2.tar.gz', ...index(), '-o', out], { cwd: wheelsDir });
    expect(res.code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions).sort()).toEqual(['dep-2.0-py3-none-any.whl', 'sdistonly-0.6.2-py3-none-any.whl']);
  });

  it('--only-binary refuses the sdist, naming the project and the files the index has', async () => {
    const res = await cli(['build', 'sdistonly', '--only-binary', ':all:', ...index(), '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/No file of sdistonly on .* fits target .* among its wheels \(--only-binary\).*\n\s+sdistonly-0\.6\.2\.tar\.gz/);
    noStack(res);
  });

  it("a failing build shows the backend's last lines, the sdist and the interpreter", async () => {
    const res = await cli(['build', 'broken', ...index(), '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Building a wheel from broken-1\.0\.tar\.gz \(http:\/\/127\.0\.0\.1:\d+\/files\/broken-1\.0\.tar\.gz\) with python3/);
    expect(res.stderr).toMatch(/compiler exploded: missing Python\.h/);
    noStack(res);
  });

  it('a built wheel whose tags do not fit the target is refused', async () => {
    const res = await cli(['build', 'native', ...index(), '-o', join(scratch, 'x.pex')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/native-1\.0-cp311-cp311-win_amd64\.whl, has tags \(cp311-cp311-win_amd64\) that do not fit target/);
    noStack(res);
  });
});

describe("pex's requirement forms", () => {
  it('a local project directory (.) is built into a wheel, its dependencies resolved', async () => {
    const dir = join(scratch, 'hello');
    await project(dir, {
      name: 'hello',
      version: '1.0',
      requires: ['app'],
      files: { 'hello/__init__.py': 'import app.main\n\ndef main():\n    print("hello"); app.main.main()\n' },
      scripts: { hello: 'hello:main' },
    });
    await writeFile(join(dir, 'requirements.txt'), 'loose\n');
    const out = join(scratch, 'out', 'hello.pex');
    const res = await cli(['build', '.', '-r', 'requirements.txt', ...index(), '-c', 'hello', '-o', out], { cwd: dir });
    expect(res.stderr).toMatch(/wrote/);
    expect(res.code).toBe(0);
    const info = await pexInfo(out);
    expect(Object.keys(info.distributions).sort()).toEqual(['app-1.0-py3-none-any.whl', 'dep-2.0-py3-none-any.whl', 'hello-1.0-py3-none-any.whl', 'loose-1.0-py3-none-any.whl']);
    expect(info.requirements).toEqual(['hello==1.0', 'loose']);
    expect((await run(out)).stdout).toBe('hello\napp with dep 2.0\n');
  });

  it('wheel files as arguments, with --no-transitive, are taken alone', async () => {
    const out = join(scratch, 'out', 'wheels.pex');
    const app = join(wheelsDir, 'app-1.0-py3-none-any.whl');
    const dep = join(wheelsDir, 'dep-1.0-py3-none-any.whl');
    const res = await cli(['build', app, dep, '--no-transitive', ...index(), '-o', out]);
    expect(res.code).toBe(0);
    const info = await pexInfo(out);
    expect(Object.keys(info.distributions).sort()).toEqual(['app-1.0-py3-none-any.whl', 'dep-1.0-py3-none-any.whl']);
    // As pex does, --no-transitive implies --ignore-errors: the PEX boots though app wants dep>=2.
    expect(info.ignore_errors).toBe(true);
    expect((await run(out, ['-c', 'import app, dep; print(dep.__version__)'])).stdout).toBe('1.0\n');
    // Without --no-transitive, app's dep>=2 conflicts with the dep 1.0 file given.
    const strict = await cli(['build', app, dep, ...index(), '-o', join(scratch, 'x.pex')]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/app 1\.0 requires dep>=2/);
  });

  it('name @ file:// takes that file, and its dependencies from the index', async () => {
    const out = join(scratch, 'out', 'direct.pex');
    const url = pathToFileURL(join(wheelsDir, 'app-1.0-py3-none-any.whl')).href;
    const res = await cli(['build', `app @ ${url}`, ...index(), '-e', 'app.main:main', '-o', out]);
    expect(res.code).toBe(0);
    expect((await run(out)).stdout).toBe('app with dep 2.0\n');
  });

  it('credentials in a direct reference and in the index URL reach neither PEX-INFO nor the output', async () => {
    const secure = await startIndexServer({ dir: wheelsDir, basicAuth: { username: 'me', password: 's3cret' } });
    try {
      const authed = secure.url.replace('http://', 'http://me:s3cret@');
      const wheelUrl = `${authed.replace(/\/simple\/?$/, '')}/files/app-1.0-py3-none-any.whl`;
      const out = join(scratch, 'out', 'secret.pex');
      const res = await cli(['build', `app @ ${wheelUrl}`, '--no-pypi', '--index-url', authed, '-e', 'app.main:main', '-o', out], {
        env: { PIP_INDEX_URL: authed },
      });
      expect(res.code).toBe(0);
      expect(`${res.stdout}${res.stderr}`).not.toContain('s3cret');
      const info = await pexInfo(out);
      expect(JSON.stringify(info)).not.toContain('s3cret');
      expect(info.requirements[0]).toMatch(/^app @ http:\/\/127\.0\.0\.1:\d+\/files\/app-1\.0-py3-none-any\.whl$/);
    } finally {
      await secure.close();
    }
  });

  it('--constraints narrow versions; a constraint that cannot hold is explained', async () => {
    const c = join(scratch, 'constraints.txt');
    await writeFile(c, 'dep<2\n');
    const out = join(scratch, 'out', 'constrained.pex');
    const ok = await cli(['build', 'loose', '--constraints', c, ...index(), '-o', out]);
    expect(ok.code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions).sort()).toEqual(['dep-1.0-py3-none-any.whl', 'loose-1.0-py3-none-any.whl']);
    const bad = await cli(['build', 'app', '--constraints', c, ...index(), '-o', join(scratch, 'x.pex')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/app 1\.0 requires dep>=2; so no version of dep fits/);
    noStack(bad);
  });

  it('pre-releases only with --pre, or when a specifier names one', async () => {
    const out = join(scratch, 'out', 'beta.pex');
    expect((await cli(['build', 'beta', ...index(), '-o', out])).code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions)).toEqual(['beta-1.0-py3-none-any.whl']);
    expect((await cli(['build', 'beta', '--pre', ...index(), '-o', out])).code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions)).toEqual(['beta-2.0b1-py3-none-any.whl']);
    expect((await cli(['build', 'beta>=2.0b1', ...index(), '-o', out])).code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions)).toEqual(['beta-2.0b1-py3-none-any.whl']);
  });

  it('-e lines in a requirements file are taken as ordinary requirements', async () => {
    const dir = join(scratch, 'editable');
    await project(dir, { name: 'edit', version: '2.1', requires: ['dep<2'] });
    await writeFile(join(scratch, 'edit-reqs.txt'), `-e ${dir}\n`);
    const out = join(scratch, 'out', 'edit.pex');
    const res = await cli(['build', '-r', join(scratch, 'edit-reqs.txt'), ...index(), '-o', out]);
    expect(res.code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions).sort()).toEqual(['dep-1.0-py3-none-any.whl', 'edit-2.1-py3-none-any.whl']);
    expect(existsSync(join(scratch, 'store'))).toBe(true);
    expect(await readFile(join(dir, 'wheel.json'), 'utf8')).toContain('"edit"');
  });
});

describe('nx-pex lock', () => {
  it("writes a PEP 751 pylock.toml for a project's dependencies, from which nx-pex builds without resolving", async () => {
    const dir = join(scratch, 'locked');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'pyproject.toml'),
      '[project]\nname = "locked"\nversion = "1.0"\nrequires-python = ">=3.8"\ndependencies = ["app", "sdistonly==0.6.2", "beta"]\n',
    );
    const res = await cli(['lock', '--project', dir, ...index()]);
    expect(res.stderr).toMatch(/wrote .*pylock\.toml \(4 packages/);
    expect(res.code).toBe(0);
    const { parse } = await import('smol-toml');
    const lock = parse(await readFile(join(dir, 'pylock.toml'), 'utf8')) as any;
    expect(lock['lock-version']).toBe('1.0');
    expect(lock['requires-python']).toBe('>=3.8');
    expect(lock['created-by']).toBe('nx-pex');
    const byName = Object.fromEntries(lock.packages.map((p: any) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['app', 'beta', 'dep', 'sdistonly']);
    expect(byName.beta.version).toBe('1.0');
    const wheel = byName.dep.wheels[0];
    const served = await readFile(join(wheelsDir, 'dep-2.0-py3-none-any.whl'));
    // PEP 751: `name` is left out where the URL ends in the file's name (as uv writes it).
    expect(wheel.name ?? wheel.url.split('/').pop()).toBe('dep-2.0-py3-none-any.whl');
    expect(wheel.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/dep-2\.0-py3-none-any\.whl$/);
    expect(wheel.size).toBe(served.length);
    expect(wheel.hashes.sha256).toBe(require('node:crypto').createHash('sha256').update(served).digest('hex'));
    expect(byName.sdistonly.sdist.name ?? byName.sdistonly.sdist.url.split('/').pop()).toBe('sdistonly-0.6.2.tar.gz');
    expect(byName.sdistonly.sdist.hashes.sha256).toMatch(/^[0-9a-f]{64}$/);
    // nx-pex builds from its own lock, without resolving: the sdist is built, verified by the lock's sha256.
    const ours = join(scratch, 'out', 'from-own-lock.pex');
    const built = await cli(['build', '--pylock', join(dir, 'pylock.toml'), ...index(), '-o', ours]);
    expect(built.stderr).not.toMatch(/resolving/);
    expect(built.code).toBe(0);
    expect(Object.keys((await pexInfo(ours)).distributions).sort()).toEqual([
      'app-1.0-py3-none-any.whl',
      'beta-1.0-py3-none-any.whl',
      'dep-2.0-py3-none-any.whl',
      expect.stringMatching(/^sdistonly-0\.6\.2-py3-none-any\.whl$/),
    ]);
  });

  itWith(['pex'], "the real pex builds from nx-pex's pylock.toml the distributions nx-pex takes", async () => {
    // pex builds sdists with a wheel==0.37.1 it fetches from the index: lock without the sdist for it.
    const wheelsOnly = join(scratch, 'locked-wheels');
    await mkdir(wheelsOnly, { recursive: true });
    await writeFile(join(wheelsOnly, 'pyproject.toml'), '[project]\nname = "locked"\nversion = "1.0"\ndependencies = ["app", "beta"]\n');
    expect((await cli(['lock', '--project', wheelsOnly, ...index()])).code).toBe(0);
    const out = join(scratch, 'out', 'from-lock.pex');
    await exec(pexBinary()!, ['--pylock', join(wheelsOnly, 'pylock.toml'), '--no-pypi', '--index-url', server.url, '-o', out], {
      env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root-lock'), PIP_FIND_LINKS: '' },
    });
    const fromPex = Object.keys((await pexInfo(out)).distributions).sort();
    expect(fromPex).toEqual(['app-1.0-py3-none-any.whl', 'beta-1.0-py3-none-any.whl', 'dep-2.0-py3-none-any.whl']);
  });

  it('a requirement that does not parse is named', async () => {
    const res = await cli(['lock', 'app>>1', ...index(), '-o', join(scratch, 'bad.toml')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Invalid requirement 'app>>1'/);
    noStack(res);
  });
});
