/**
 * Locks other than uv.lock through the CLI: hashed requirements files as pip-compile, uv export
 * and poetry export write them (-r and --lock), and poetry.lock (--lock, and beside a project),
 * with their wheels served by a local index.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';
import { copyPinnedPex, exec, requireBuiltCli, runCli } from './support';

jest.setTimeout(120_000);

const PLATFORM_WHEELS = join(__dirname, '..', '..', '..', '.cache', 'platform-wheels');

let scratch: string;
let server: IndexServer;
let app: FixtureFile;
let dep: FixtureFile;
let sdistOnly: FixtureFile;
const msgpack: Record<string, FixtureFile> = {};

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-locks-'));
  const wheels = join(scratch, 'wheels');
  await mkdir(wheels);
  app = await writeFixtureWheel(wheels, {
    name: 'app',
    version: '1.0',
    files: { 'app/__init__.py': '', 'app/main.py': 'import json, dep\n\ndef main():\n    print(json.dumps({"dep": dep.VALUE}))\n' },
  });
  dep = await writeFixtureWheel(wheels, { name: 'dep', version: '2.0', files: { 'dep/__init__.py': 'VALUE = 42\n' } });
  // A package whose index has only an sdist of the locked version.
  sdistOnly = { filename: 'native-1.0.tar.gz', path: join(wheels, 'native-1.0.tar.gz'), sha256: '', size: 0 };
  await writeFile(sdistOnly.path, 'not really an sdist');
  sdistOnly.sha256 = createHash('sha256').update('not really an sdist').digest('hex');
  for (const f of readdirSync(PLATFORM_WHEELS).filter((n) => n.startsWith('msgpack-1.1.0-'))) {
    await copyFile(join(PLATFORM_WHEELS, f), join(wheels, f));
    const bytes = await readFile(join(wheels, f));
    msgpack[f] = { filename: f, path: join(wheels, f), sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }
  await copyPinnedPex(wheels);
  server = await startIndexServer({ dir: wheels });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const env = () => ({ PIP_INDEX_URL: server.url });
const cli = (args: string[]) => runCli(args, { env: env() });
const store = () => join(scratch, 'store');

async function pexInfo(pex: string): Promise<{ distributions: Record<string, string>; requirements: string[] }> {
  const { stdout } = await exec('unzip', ['-p', pex, 'PEX-INFO']);
  return JSON.parse(stdout);
}

/** What `poetry export -f requirements.txt` writes (with a source named on the first line). */
function poetryExport(lines: Array<{ req: string; marker?: string; hashes: string[] }>, index = 'https://pypi.org/simple'): string {
  return `--index-url ${index}\n\n${lines
    .map((l) => `${l.req}${l.marker ? ` ; ${l.marker}` : ''} \\\n${l.hashes.map((h) => `    --hash=sha256:${h}`).join(' \\\n')}`)
    .join('\n')}\n`;
}

it('nx-pex build -r <poetry export output> builds from exactly the hashed files, with no dependency lookup', async () => {
  const reqs = join(scratch, 'requirements.txt');
  await writeFile(
    reqs,
    poetryExport([
      { req: 'app==1.0', marker: 'python_version >= "3.9" and python_version < "4.0"', hashes: [app.sha256, 'f'.repeat(64)] },
      { req: 'dep==2.0', marker: 'python_version >= "3.9" and python_version < "4.0"', hashes: [dep.sha256] },
      { req: 'winonly==1.0', marker: 'sys_platform == "win32"', hashes: ['e'.repeat(64)] },
    ]),
  );
  const out = join(scratch, 'r.pex');
  const res = await cli(['build', '-r', reqs, '-e', 'app.main:main', '-o', out, '--store', store()]);
  expect(res.stderr).toMatch(/hashed requirements .* as a lock/);
  expect(res.code).toBe(0);
  const info = await pexInfo(out);
  expect(info.distributions).toEqual({ [app.filename]: app.sha256, [dep.filename]: dep.sha256 });
  expect(info.requirements).toEqual([
    'app==1.0; python_version >= "3.9" and python_version < "4.0"',
    'dep==2.0; python_version >= "3.9" and python_version < "4.0"',
    'winonly==1.0; sys_platform == "win32"',
  ]);
  const { stdout } = await exec(out, [], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
  expect(JSON.parse(stdout)).toEqual({ dep: 42 });
  // The same file as --lock.
  const again = await cli(['build', '--lock', reqs, '-e', 'app.main:main', '-o', join(scratch, 'r2.pex'), '--store', store()]);
  expect(again.code).toBe(0);
});

it('a --hash that matches no file names the requirement, both hashes and the files there are', async () => {
  const reqs = join(scratch, 'wrong.txt');
  await writeFile(reqs, `app==1.0 --hash=sha256:${'0'.repeat(64)}\ndep==2.0 --hash=sha256:${dep.sha256}\n`);
  const res = await cli(['build', '-r', reqs, '-o', join(scratch, 'x.pex'), '--store', store()]);
  expect(res.code).toBe(1);
  expect(res.stderr).toContain(`wrong.txt:1: no file of app==1.0 on`);
  expect(res.stderr).toContain(`--hash=sha256:${'0'.repeat(64)}`);
  expect(res.stderr).toContain(`${app.filename} sha256:${app.sha256}`);
  expect(res.stderr).not.toMatch(/\n\s+at /);
});

it('a partly hashed file is refused as pip refuses it, naming the requirements without hashes', async () => {
  const reqs = join(scratch, 'partial.txt');
  await writeFile(reqs, `app==1.0 --hash=sha256:${app.sha256}\ndep==2.0\n`);
  const res = await cli(['build', '-r', reqs, '-o', join(scratch, 'x.pex'), '--store', store()]);
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/partial\.txt:2: dep==2\.0 \(no --hash\)/);
});

it('an sdist-only package for a foreign platform says it must be built there or come as a wheel', async () => {
  const reqs = join(scratch, 'sdist.txt');
  await writeFile(reqs, `native==1.0 --hash=sha256:${sdistOnly.sha256}\n`);
  const res = await cli(['build', '-r', reqs, '-o', join(scratch, 'x.pex'), '--store', store(), '--platform', 'manylinux2014_aarch64-cp-312-cp312']);
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/sdist\.txt:1: no wheel of native==1\.0 fits target manylinux2014_aarch64-cp-312-cp312\. Only its sdist \(native-1\.0\.tar\.gz\) is hashed, and manylinux2014_aarch64-cp-312-cp312 is not this machine's platform: the wheel must be built on manylinux2014_aarch64-cp-312-cp312, or come as a wheel/);
});

it('a hashed file builds one PEX for several platforms from the hashed wheels of each', async () => {
  const names = Object.keys(msgpack);
  const reqs = join(scratch, 'msgpack.txt');
  await writeFile(reqs, poetryExport([{ req: 'msgpack==1.1.0', hashes: names.map((n) => msgpack[n]!.sha256) }]));
  const out = join(scratch, 'm.pex');
  const res = await cli(['build', '-r', reqs, '-o', out, '--store', store(), '--platform', 'musllinux_1_2_x86_64-cp-312-cp312', '--platform', 'manylinux2014_x86_64-cp-311-cp311']);
  expect(res.code).toBe(0);
  expect(Object.keys((await pexInfo(out)).distributions).sort()).toEqual(
    names.filter((n) => n.includes('cp312-cp312-musllinux_1_2') || n.includes('cp311-cp311-manylinux')).sort(),
  );
});

it('--lock poetry.lock takes the requirements from the lock, each file found on the index by name and sha256', async () => {
  const lock = join(scratch, 'poetry.lock');
  await writeFile(
    lock,
    `# This file is automatically @generated by Poetry 1.8.5 and should not be changed by hand.\n\n` +
      `[[package]]\nname = "app"\nversion = "1.0"\ndescription = ""\noptional = false\npython-versions = "*"\nfiles = [\n    {file = "${app.filename}", hash = "sha256:${app.sha256}"},\n]\n\n` +
      `[package.dependencies]\ndep = "2.0"\n\n` +
      `[[package]]\nname = "dep"\nversion = "2.0"\ndescription = ""\noptional = false\npython-versions = "*"\nfiles = [\n    {file = "${dep.filename}", hash = "sha256:${dep.sha256}"},\n]\n\n` +
      `[metadata]\nlock-version = "2.0"\npython-versions = "^3.11"\ncontent-hash = "00"\n`,
  );
  const out = join(scratch, 'p.pex');
  const res = await cli(['build', 'app', '--lock', lock, '-e', 'app.main:main', '-o', out, '--store', join(scratch, 'store-poetry')]);
  expect(res.code).toBe(0);
  expect((await pexInfo(out)).distributions).toEqual({ [app.filename]: app.sha256, [dep.filename]: dep.sha256 });

  // A lock-version nx-pex does not know, and a damaged lock: one line each, naming the file.
  await writeFile(lock, `[metadata]\nlock-version = "9.0"\n`);
  const unknown = await cli(['build', 'app', '--lock', lock, '-o', out]);
  expect(unknown.stderr).toMatch(/poetry\.lock: lock-version "9\.0" is not one nx-pex reads/);
  await writeFile(lock, `[[package]]\nname = "app"\nversion = "1.0"\nfiles = "x"\n[metadata]\nlock-version = "2.0"\n`);
  const damaged = await cli(['build', 'app', '--lock', lock, '-o', out]);
  expect(damaged.stderr).toMatch(/poetry\.lock:1: package 'app 1\.0': `files` must be an array\. Regenerate the lock with `poetry lock`/);
});

it('--pylock takes a PEP 751 lock: the whole lock without requirements, as pex does, and files given by path or URL', async () => {
  const dir = join(scratch, 'pylock');
  await mkdir(join(dir, 'wheels'), { recursive: true });
  await copyFile(dep.path, join(dir, 'wheels', dep.filename));
  const lock = join(dir, 'pylock.toml');
  await writeFile(
    lock,
    [
      'lock-version = "1.0"',
      'created-by = "test"',
      '',
      '[[packages]]',
      'name = "app"',
      'version = "1.0"',
      `wheels = [{ url = "${server.url.replace(/\/simple\/?$/, '')}/files/${app.filename}", hashes = { sha256 = "${app.sha256}" } }]`,
      '',
      '[[packages]]',
      'name = "dep"',
      'version = "2.0"',
      `wheels = [{ path = "wheels/${dep.filename}", hashes = { sha256 = "${dep.sha256}" } }]`,
      '',
      '[[packages]]',
      'name = "winonly"',
      'version = "1.0"',
      'marker = "sys_platform == \'win32\'"',
      `wheels = [{ url = "https://example.invalid/winonly-1.0-py3-none-any.whl", hashes = { sha256 = "${'e'.repeat(64)}" } }]`,
      '',
    ].join('\n'),
  );
  const whole = join(scratch, 'pylock-whole.pex');
  const r = await cli(['build', '--pylock', lock, '-e', 'app.main:main', '-o', whole, '--store', store()]);
  expect(r.stderr).toContain('wrote');
  expect(r.code).toBe(0);
  const info = await pexInfo(whole);
  expect(Object.keys(info.distributions).sort()).toEqual([app.filename, dep.filename].sort());
  expect(info.requirements).toEqual(['app==1.0', 'dep==2.0']);
  const { stdout } = await exec(whole, [], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
  expect(JSON.parse(stdout)).toEqual({ dep: 42 });

  // A requirement selects its closure from the lock (here only dep: no edges are recorded, so dep alone).
  const one = join(scratch, 'pylock-dep.pex');
  expect((await cli(['build', 'dep', '--pep-751-lock', lock, '-o', one, '--store', store()])).code).toBe(0);
  expect(Object.keys((await pexInfo(one)).distributions)).toEqual([dep.filename]);
});
