/**
 * `nx-pex lock` for several targets at once (--platform, --complete-platform) and for every
 * environment (--universal): one pylock.toml whose markers give each target exactly what its own
 * resolution chose, read back by the pylock reader per target, and built into a multi-platform PEX.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { parsePylock, pylockClosure } from '@nx-pex/lock';
import { abbreviatedPlatform, completePlatform, type TargetPlatform } from '@nx-pex/pep';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { itWith, pyenvPython } from '@nx-pex/testkit';
import { copyPinnedPex, exec, requireBuiltCli, runCli } from './support';

jest.setTimeout(180_000);

const LINUX_311 = 'manylinux2014_x86_64-cp-311-cp311';
const MAC_312 = 'macosx_11_0_arm64-cp-312-cp312';
const COMPLETE_312 = join(__dirname, '..', '..', '..', 'packages', 'pep', 'test', 'fixtures', 'complete-platform-cp312-linux.json');

/** The pyenv CPython of a minor version, if installed. */
let scratch: string;
let wheels: string;
let server: IndexServer;

/** A wheel with the given Requires-Dist lines, written by Python's zipfile. */
async function wheel(name: string, version: string, tag = 'py3-none-any', requires: string[] = []): Promise<void> {
  const script = String.raw`
import base64, hashlib, json, os, sys, zipfile
out, name, version, tag, requires = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
di = "%s-%s.dist-info" % (name, version)
files = {name + "/__init__.py": "__version__ = %r\n" % version,
         di + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (name, version, "".join("Requires-Dist: %s\n" % r for r in requires)),
         di + "/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: %s\n" % tag}
rec = ["%s,sha256=%s,%d" % (p, base64.urlsafe_b64encode(hashlib.sha256(d.encode()).digest()).rstrip(b"=").decode(), len(d)) for p, d in files.items()]
files[di + "/RECORD"] = "\n".join(rec + [di + "/RECORD,,"]) + "\n"
with zipfile.ZipFile(os.path.join(out, "%s-%s-%s.whl" % (name, version, tag)), "w") as z:
    for p, d in sorted(files.items()):
        z.writestr(zipfile.ZipInfo(p, (1980, 1, 1, 0, 0, 0)), d)
`;
  await exec('python3', ['-c', script, wheels, name, version, tag, JSON.stringify(requires)]);
}

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-lock-targets-'));
  wheels = join(scratch, 'wheels');
  await mkdir(wheels, { recursive: true });
  await copyPinnedPex(wheels);
  // native 2.0 has no wheel for CPython 3.11 on Linux: that target takes 1.0.
  await wheel('native', '1.0', 'cp311-cp311-manylinux2014_x86_64');
  await wheel('native', '1.0', 'cp312-cp312-macosx_11_0_arm64');
  await wheel('native', '2.0', 'cp312-cp312-macosx_11_0_arm64');
  await wheel('native', '2.0', 'cp312-cp312-manylinux2014_x86_64');
  await wheel('common', '1.0');
  await wheel('macdep', '1.0');
  await wheel('oldpy', '1.0');
  await wheel('winonly', '1.0');
  // A version with a wheel and an sdist: a universal lock lists both (its metadata comes from the wheel).
  await wheel('mixed', '1.0');
  await exec('python3', ['-c', 'import sys, tarfile, io\nwith tarfile.open(sys.argv[1], "w:gz") as t:\n    d = b"Metadata-Version: 2.1\\nName: mixed\\nVersion: 1.0\\n"\n    i = tarfile.TarInfo("mixed-1.0/PKG-INFO"); i.size = len(d); t.addfile(i, io.BytesIO(d))', join(wheels, 'mixed-1.0.tar.gz')]);
  await wheel('app', '1.0', 'py3-none-any', ['native', 'common', 'macdep; sys_platform == "darwin"', 'oldpy; python_version < "3.12"', 'winonly; sys_platform == "win32"']);
  server = await startIndexServer({ dir: wheels });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const index = () => ['--no-pypi', '--index-url', server.url, '--store', join(scratch, 'store')];
const cli = (args: string[]) => runCli(args, { cwd: scratch, env: { NX_PEX_STORE: join(scratch, 'store') } });
const pins = (t: TargetPlatform, text: string) =>
  pylockClosure(parsePylock(text, 'pylock.toml'), t)
    .thirdParty.map((p) => `${p.name}==${p.version}`)
    .sort();

async function lockFor(name: string, targets: string[], extra: string[] = []): Promise<string> {
  const out = join(scratch, name);
  const res = await cli(['lock', 'app', ...targets, ...index(), '-o', out, ...extra]);
  expect(res.stderr).toMatch(/wrote /);
  expect(res.code).toBe(0);
  return readFile(out, 'utf8');
}

async function pexInfo(pex: string): Promise<{ distributions: Record<string, string> }> {
  const { stdout } = await exec('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("PEX-INFO").decode())', pex]);
  return JSON.parse(stdout);
}

describe('a lock for several targets', () => {
  const targets = ['--platform', LINUX_311, '--platform', MAC_312, '--complete-platform', COMPLETE_312];
  const objects = () => [abbreviatedPlatform(LINUX_311), abbreviatedPlatform(MAC_312), completePlatform(require('node:fs').readFileSync(COMPLETE_312, 'utf8'), COMPLETE_312)];
  let text: string;

  beforeAll(async () => {
    text = await lockFor('multi.toml', targets);
  });

  it('gives each target, read back, exactly what its own resolution chose', async () => {
    const alone = [await lockFor('a.toml', targets.slice(0, 2)), await lockFor('b.toml', targets.slice(2, 4)), await lockFor('c.toml', targets.slice(4, 6))];
    const ts = objects();
    for (const [i, t] of ts.entries()) expect(pins(t, text)).toEqual(pins(t, alone[i]!));
    expect(pins(ts[0]!, text)).toEqual(['app==1.0', 'common==1.0', 'native==1.0', 'oldpy==1.0']);
    expect(pins(ts[1]!, text)).toEqual(['app==1.0', 'common==1.0', 'macdep==1.0', 'native==2.0']);
    expect(pins(ts[2]!, text)).toEqual(['app==1.0', 'common==1.0', 'native==2.0']);
  });

  it('keeps versions apart by markers, lists every wheel with URL, size and sha256, and names the environments', async () => {
    const lock = parse(text) as any;
    expect(lock['requires-python']).toBe('>=3.11');
    expect(lock.environments).toEqual([
      'sys_platform == "linux" and platform_machine == "x86_64" and python_version == "3.11" and implementation_name == "cpython"',
      'sys_platform == "darwin" and platform_machine == "arm64" and python_version == "3.12" and implementation_name == "cpython"',
      'sys_platform == "linux" and platform_machine == "x86_64" and python_version == "3.12" and implementation_name == "cpython"',
    ]);
    const entries = lock.packages.map((p: any) => [p.name, p.version, p.marker]);
    expect(entries).toEqual([
      ['app', '1.0', undefined],
      ['common', '1.0', undefined],
      ['macdep', '1.0', 'sys_platform == "darwin"'],
      ['native', '1.0', 'python_version == "3.11"'],
      ['native', '2.0', 'python_version == "3.12"'],
      ['oldpy', '1.0', 'python_version == "3.11"'],
    ]);
    const native2 = lock.packages.find((p: any) => p.name === 'native' && p.version === '2.0');
    const names = native2.wheels.map((w: any) => w.name ?? w.url.split('/').pop());
    expect(names).toEqual(['native-2.0-cp312-cp312-macosx_11_0_arm64.whl', 'native-2.0-cp312-cp312-manylinux2014_x86_64.whl']);
    for (const w of lock.packages.flatMap((p: any) => p.wheels)) {
      const file = await readFile(join(wheels, w.name ?? w.url.split('/').pop()));
      expect(w.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      expect(w.size).toBe(file.length);
      expect(w.hashes.sha256).toBe(createHash('sha256').update(file).digest('hex'));
    }
  });

  it('builds a multi-platform PEX holding each target\'s wheels', async () => {
    const lock = join(scratch, 'multi.toml');
    const out = join(scratch, 'multi.pex');
    const res = await cli(['build', '--pylock', lock, ...targets, ...index(), '-o', out]);
    expect(res.stderr).not.toMatch(/resolving/);
    expect(res.code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions).sort()).toEqual([
      'app-1.0-py3-none-any.whl',
      'common-1.0-py3-none-any.whl',
      'macdep-1.0-py3-none-any.whl',
      'native-1.0-cp311-cp311-manylinux2014_x86_64.whl',
      'native-2.0-cp312-cp312-macosx_11_0_arm64.whl',
      'native-2.0-cp312-cp312-manylinux2014_x86_64.whl',
      'oldpy-1.0-py3-none-any.whl',
    ]);
  });

  it('refuses --universal with platforms', async () => {
    const res = await cli(['lock', 'app', '--universal', '--platform', MAC_312, ...index(), '-o', join(scratch, 'x.toml')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/--universal locks for every platform at once/);
    expect(res.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('a lock for two interpreters', () => {
  const py311 = pyenvPython('3.11');
  const py312 = pyenvPython('3.12');

  itWith(['python3.11', 'python3.12', 'linux-x64'], 'gives each interpreter its own versions, and the PEX built for each runs with them', async () => {
    const text = await lockFor('pythons.toml', ['--python', py311!, '--python', py312!]);
    const lock = parse(text) as any;
    const native = lock.packages.filter((p: any) => p.name === 'native').map((p: any) => [p.version, p.marker]);
    expect(native).toEqual([
      ['1.0', 'python_version == "3.11"'],
      ['2.0', 'python_version == "3.12"'],
    ]);
    for (const [python, version] of [
      [py311!, '1.0'],
      [py312!, '2.0'],
    ] as const) {
      const out = join(scratch, `py${version}.pex`);
      const res = await cli(['build', '--pylock', join(scratch, 'pythons.toml'), '--python', python, ...index(), '-o', out]);
      expect(res.code).toBe(0);
      const { stdout } = await exec(python, [out, '-c', 'import native, common; print(native.__version__)'], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
      expect(stdout.trim()).toBe(version);
    }
  });
});

describe('a universal lock', () => {
  let text: string;
  beforeAll(async () => {
    const dir = join(scratch, 'project');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'pyproject.toml'), '[project]\nname = "svc"\nversion = "1.0"\nrequires-python = ">=3.11"\ndependencies = ["app", "mixed"]\n');
    const res = await cli(['lock', '--universal', '--project', dir, ...index()]);
    expect(res.code).toBe(0);
    text = await readFile(join(dir, 'pylock.toml'), 'utf8');
  });

  it('takes one version per package, carries markers along the edges, lists every file of each version', () => {
    const lock = parse(text) as any;
    expect(lock['requires-python']).toBe('>=3.11');
    expect(lock.environments).toBeUndefined();
    expect(lock.packages.map((p: any) => [p.name, p.version, p.marker])).toEqual([
      ['app', '1.0', undefined],
      ['common', '1.0', undefined],
      ['macdep', '1.0', 'sys_platform == "darwin"'],
      ['mixed', '1.0', undefined],
      ['native', '2.0', undefined],
      ['oldpy', '1.0', 'python_version < "3.12"'],
      ['winonly', '1.0', 'sys_platform == "win32"'],
    ]);
    const native = lock.packages.find((p: any) => p.name === 'native');
    expect(native.wheels.map((w: any) => w.name ?? w.url.split('/').pop())).toEqual(['native-2.0-cp312-cp312-macosx_11_0_arm64.whl', 'native-2.0-cp312-cp312-manylinux2014_x86_64.whl']);
    expect(native.wheels.every((w: any) => w.size > 0 && /^[0-9a-f]{64}$/.test(w.hashes.sha256))).toBe(true);
    const mixed = lock.packages.find((p: any) => p.name === 'mixed');
    expect(mixed.wheels.map((w: any) => w.name ?? w.url.split('/').pop())).toEqual(['mixed-1.0-py3-none-any.whl']);
    expect(mixed.sdist.url).toMatch(/mixed-1\.0\.tar\.gz$/);
    expect(mixed.sdist.hashes.sha256).toBe(createHash('sha256').update(require('node:fs').readFileSync(join(wheels, 'mixed-1.0.tar.gz'))).digest('hex'));
    expect(mixed.sdist.size).toBe(require('node:fs').statSync(join(wheels, 'mixed-1.0.tar.gz')).size);
  });

  it('reads back per target and builds a multi-platform PEX', async () => {
    const mac = abbreviatedPlatform(MAC_312);
    expect(pins(mac, text)).toEqual(['app==1.0', 'common==1.0', 'macdep==1.0', 'mixed==1.0', 'native==2.0']);
    const lock = join(scratch, 'project', 'pylock.toml');
    const out = join(scratch, 'universal.pex');
    const res = await cli(['build', '--pylock', lock, '--platform', MAC_312, '--complete-platform', COMPLETE_312, ...index(), '-o', out]);
    expect(res.code).toBe(0);
    expect(Object.keys((await pexInfo(out)).distributions).sort()).toEqual([
      'app-1.0-py3-none-any.whl',
      'common-1.0-py3-none-any.whl',
      'macdep-1.0-py3-none-any.whl',
      'mixed-1.0-py3-none-any.whl',
      'native-2.0-cp312-cp312-macosx_11_0_arm64.whl',
      'native-2.0-cp312-cp312-manylinux2014_x86_64.whl',
    ]);
  });
});
