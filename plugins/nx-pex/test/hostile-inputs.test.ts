/**
 * Hostile inputs to the resolver, `nx-pex lock` and the build, through the CLI against a local
 * index on 127.0.0.1: an index whose PEP 658 metadata lies about a wheel's Requires-Dist, a wheel
 * whose Requires-Dist does not parse, every version yanked, a requirement string of 100 kB, a
 * console script whose name is long but fits as `<name>.pex`, and `nx-pex lock -o` aimed at a
 * directory, a path under a file, a README and a user's own lock.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';
import { copyPinnedPex, exec, requireBuiltCli, runCli, uvLockText, writeWorkspace, type CliResult } from './support';

jest.setTimeout(180_000);

let scratch: string;
let wheels: string;
let server: IndexServer;
let liar: FixtureFile;

const noStack = (r: CliResult) => expect(r.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
const index = () => ['--no-pypi', '--index-url', server.url];
const cli = (args: string[], store = join(scratch, 'store')) => runCli(args, { cwd: scratch, env: { NX_PEX_STORE: store, PIP_INDEX_URL: server.url } });

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-hostile-inputs-'));
  wheels = join(scratch, 'wheels');
  await copyPinnedPex(wheels);
  // The wheel needs `helper`; the index's .metadata for it says it needs nothing.
  liar = await writeFixtureWheel(wheels, { name: 'liar', version: '1.0', requiresDist: ['helper>=1'] });
  await writeFixtureWheel(wheels, { name: 'helper', version: '1.0' });
  await writeFixtureWheel(wheels, { name: 'badmeta', version: '1.0', requiresDist: ['helper >>> 1'] });
  await writeFixtureWheel(wheels, { name: 'gone', version: '1.0' });
  await writeFixtureWheel(wheels, { name: 'gone', version: '2.0' });
  await writeFixtureWheel(wheels, { name: 'six', version: '1.0' });
  const otherver = await writeFixtureWheel(wheels, { name: 'otherver', version: '1.0' });
  const othername = await writeFixtureWheel(wheels, { name: 'othername', version: '1.0' });
  server = await startIndexServer({
    dir: wheels,
    yanked: { 'gone-1.0-py3-none-any.whl': 'broken', 'gone-2.0-py3-none-any.whl': true },
    metadataOverrides: {
      [liar.filename]: 'Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n\n',
      [otherver.filename]: 'Metadata-Version: 2.1\nName: otherver\nVersion: 2.0\n\n',
      [othername.filename]: 'Metadata-Version: 2.1\nName: somethingelse\nVersion: 1.0\n\n',
    },
  });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('metadata is verified, not trusted', () => {
  it('a .metadata that leaves out a Requires-Dist of the wheel stops the build, names both, and is not kept', async () => {
    const store = join(scratch, 'store-liar');
    const out = join(scratch, 'out', 'liar.pex');
    const res = await cli(['build', 'liar', ...index(), '-o', out], store);
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toContain(liar.filename);
    expect(res.stderr).toContain(`${server.url.replace(/\/simple$/, '')}/files/${liar.filename}`);
    expect(res.stderr).toMatch(/Requires-Dist: the resolution read \(none\), the wheel has "helper>=1"/);
    expect(res.stderr).toContain(`${liar.filename}.metadata`);
    expect(existsSync(out)).toBe(false);
    // The lie is not kept in the store's metadata cache.
    const kept = join(store, 'metadata', 'file-sha256', liar.sha256.slice(0, 2), liar.sha256);
    expect(existsSync(kept)).toBe(false);
  });

  it('a Requires-Dist that does not parse is an error naming the package, the file and the text', async () => {
    const res = await cli(['build', 'badmeta', ...index(), '-o', join(scratch, 'out', 'badmeta.pex')]);
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toMatch(/badmeta 1\.0 \(badmeta-1\.0-py3-none-any\.whl from http:\/\/127\.0\.0\.1:\d+\/files\/badmeta-1\.0-py3-none-any\.whl\) declares the dependency "helper >>> 1"/);
    expect(res.stderr).toMatch(/not a valid PEP 508 requirement/);
    expect(existsSync(join(scratch, 'out', 'badmeta.pex'))).toBe(false);
  });

  it.each([
    ['otherver', /otherver-1\.0-py3-none-any\.whl from http:\/\/127\.0\.0\.1:\d+\/files\/otherver-1\.0-py3-none-any\.whl declares Version: 2\.0 in its metadata, not 1\.0/],
    ['othername', /othername-1\.0-py3-none-any\.whl from .* declares Name: somethingelse in its metadata, not othername/],
  ])('metadata naming another version or project than its file (%s) is an error, not a warning', async (name, message) => {
    const res = await cli(['build', name, ...index(), '-o', join(scratch, 'out', `${name}.pex`)]);
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toMatch(message);
  });

  it('an honest index builds a PEX that boots', async () => {
    const out = join(scratch, 'out', 'six.pex');
    const res = await cli(['build', 'six', ...index(), '-o', out]);
    if (res.code !== 0) throw new Error(`nx-pex build failed:\n${res.stderr}`);
    expect(res.code).toBe(0);
    const { stdout } = await exec('python3', [out, '-c', 'import six; print(six.__version__)'], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
    expect(stdout.trim()).toBe('1.0');
  });
});

describe('messages', () => {
  it('every version yanked is named as yanked', async () => {
    const res = await cli(['build', 'gone', ...index(), '-o', join(scratch, 'out', 'gone.pex')]);
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toContain('all versions of gone are yanked: 2.0, 1.0');
  });

  it('a 100 kB requirement is refused before any request, by its length', async () => {
    const before = server.requests.length;
    const started = Date.now();
    const res = await cli(['build', 'a'.repeat(100_000), ...index(), '-o', join(scratch, 'out', 'long.pex')]);
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toMatch(/100000 characters long, more than the 8192 nx-pex accepts/);
    expect(res.stderr.length).toBeLessThan(2000);
    expect(server.requests.length).toBe(before);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a 240-character console script name builds: the limit is that of <name>.pex', async () => {
    const name = `s${'x'.repeat(239)}`;
    const ws = await writeWorkspace(join(scratch, 'long-script'), {
      pyproject: `[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["six"]\n\n[project.scripts]\n${name} = "app.main:main"\n`,
      sources: { 'main.py': 'def main():\n    print("long ok")\n' },
      lock: uvLockText({ dependencies: ['six'], registry: server.url, wheels: [{ name: 'six', file: await writeFixtureWheel(wheels, { name: 'six', version: '1.0' }) }] }),
    });
    const res = await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), ...index()]);
    expect(res.stderr).not.toMatch(/ENAMETOOLONG|cannot name a PEX file/);
    expect(res.code).toBe(0);
    const { stdout } = await exec(join(ws, 'dist', `${name}.pex`), [], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
    expect(stdout.trim()).toBe('long ok');
    // One character more no longer fits in a file name: refused by that, in so many words.
    const tooLong = `s${'x'.repeat(251)}`;
    await writeFile(join(ws, 'app', 'pyproject.toml'), `[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["six"]\n\n[project.scripts]\n${tooLong} = "app.main:main"\n`);
    const refused = await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), ...index()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot name a PEX file/);
    noStack(refused);
  });
});

describe('nx-pex lock -o is as safe as build -o', () => {
  let project: string;
  beforeAll(async () => {
    project = join(scratch, 'lockme');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'pyproject.toml'), '[project]\nname = "lockme"\nversion = "1.0"\ndependencies = ["six"]\n');
  });
  const lock = (...args: string[]) => cli(['lock', '--project', project, ...index(), ...args]);
  const residue = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

  it('refuses an existing directory, with no temporary file left beside it', async () => {
    const dir = join(scratch, 'adir');
    await mkdir(dir, { recursive: true });
    const res = await lock('-o', dir);
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toMatch(/Refusing to write the lock to .*adir: it is a directory/);
    expect(residue(scratch)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a path under a regular file', async () => {
    await writeFile(join(scratch, 'afile'), 'x');
    const res = await lock('-o', join(scratch, 'afile', 'pylock.toml'));
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toMatch(/a part of that path is a file, not a directory/);
  });

  it('refuses a file that is not a lock, and leaves it as it was', async () => {
    const readme = join(scratch, 'README.md');
    await writeFile(readme, '# my notes\n');
    const res = await lock('-o', readme);
    expect(res.code).toBe(1);
    noStack(res);
    expect(res.stderr).toMatch(/Refusing to replace .*README\.md: it exists and is not a lock nx-pex wrote/);
    expect(await readFile(readme, 'utf8')).toBe('# my notes\n');
  });

  it("replaces its own lock, refuses a user's lock unless --replace-user-lock is given", async () => {
    const own = join(project, 'pylock.toml');
    expect((await lock()).code).toBe(0);
    const first = await readFile(own, 'utf8');
    expect(first.split('\n')[0]).toMatch(/^# Written by `nx-pex lock`/);
    expect((await lock()).code).toBe(0);
    expect(residue(project)).toEqual([]);

    const user = 'lock-version = "1.0"\ncreated-by = "me"\n\n[[packages]]\nname = "six"\nversion = "1.0"\n';
    await writeFile(own, user);
    const refused = await lock();
    expect(refused.code).toBe(1);
    noStack(refused);
    expect(refused.stderr).toMatch(/it is a lock nx-pex did not write .*--replace-user-lock/s);
    expect(await readFile(own, 'utf8')).toBe(user);
    const replaced = await lock('--replace-user-lock');
    expect(replaced.code).toBe(0);
    expect((await readFile(own, 'utf8')).split('\n')[0]).toMatch(/^# Written by `nx-pex lock`/);
  });
});
