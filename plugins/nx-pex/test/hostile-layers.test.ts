/**
 * The deps layer in the store under bad luck, through the CLI: a byte flipped in it, a
 * truncation, a missing deps.pex, and a user's edit in place of `dist/.../layers/deps.pex` (a hard
 * link into the store, writable by root despite its read-only mode). The next service's build
 * ships a correct layer every time, says it rebuilt it, and never prints a stack trace.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { appendFile, chmod, mkdtemp, open, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFixtureWheel, type FixtureFile } from '@nx-pex/index-server';
import { copyPinnedPex, exec, requireBuiltCli, runCli, uvLockText, writeWorkspace } from './support';

jest.setTimeout(300_000);

let scratch: string;
let wheels: string;
let small: FixtureFile;

const env = (): NodeJS.ProcessEnv => ({ PIP_FIND_LINKS: wheels, PIP_NO_INDEX: '1', NX_PEX_OFFLINE: '' });
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A workspace whose one service, `name`, needs smallpkg (the same closure for every service). */
async function service(name: string): Promise<string> {
  return writeWorkspace(join(scratch, name), {
    pyproject: `[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["smallpkg"]\n\n[project.scripts]\n${name} = "app.main:main"\n`,
    sources: { 'main.py': `import smallpkg\n\ndef main():\n    print("${name}", smallpkg.__version__)\n` },
    lock: uvLockText({ dependencies: ['smallpkg'], registry: 'https://pypi.org/simple', wheels: [{ name: 'smallpkg', file: small }] }),
  });
}

async function buildLayers(ws: string, store: string) {
  const res = await runCli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), '--layers', '--store', store], { env: env() });
  expect(res.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
  if (res.code !== 0) throw new Error(`nx-pex build failed:\n${res.stderr}`);
  return res;
}

async function runs(ws: string, name: string): Promise<string> {
  const layers = join(ws, 'dist', 'layers');
  const { stdout } = await exec('python3', [join(layers, `${name}.pex`)], { env: { ...process.env, PEX_PATH: join(layers, 'deps.pex'), PEX_ROOT: join(scratch, `pex-root-${name}`) } });
  return stdout.trim();
}

async function storeLayer(store: string): Promise<string> {
  const [key] = await readdir(join(store, 'layers'));
  return join(store, 'layers', key!);
}

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-hostile-layers-'));
  wheels = join(scratch, 'wheels');
  small = await writeFixtureWheel(wheels, { name: 'smallpkg', version: '1.0' });
  await copyPinnedPex(wheels);
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it("a user's edit in place of dist/.../layers/deps.pex never reaches the next service", async () => {
  const store = join(scratch, 'store-edit');
  const one = await service('one');
  await buildLayers(one, store);
  const good = sha(join(one, 'dist', 'layers', 'deps.pex'));
  expect(await runs(one, 'one')).toBe('one 1.0');
  // The dist file is read-only, like the store's...
  const dist = join(one, 'dist', 'layers', 'deps.pex');
  expect(lstatSync(dist).mode & 0o222).toBe(0);
  // ...but root (or a chmod) writes through it: an edit in place, same size.
  await chmod(dist, 0o644);
  const fh = await open(dist, 'r+');
  await fh.write(Buffer.from('EDITED'), 0, 6, 100);
  await fh.close();
  expect(sha(dist)).not.toBe(good);

  const two = await service('two');
  const res = await buildLayers(two, store);
  expect(res.stderr).toMatch(/deps layer \w+ was damaged \(deps\.pex has changed/);
  expect(sha(join(two, 'dist', 'layers', 'deps.pex'))).toBe(good);
  expect(sha(join(await storeLayer(store), 'deps.pex'))).toBe(good);
  expect(await runs(two, 'two')).toBe('two 1.0');
});

it.each([
  ['a byte flipped', async (f: string) => {
    const b = readFileSync(f);
    b[Math.floor(b.length / 2)] = b[Math.floor(b.length / 2)]! ^ 0x01;
    const fh = await open(f, 'r+');
    await fh.write(b, Math.floor(b.length / 2), 1, Math.floor(b.length / 2));
    await fh.close();
  }],
  ['truncated', (f: string) => truncate(f, 1000)],
  ['appended to', (f: string) => appendFile(f, 'x')],
  ['missing', (f: string) => rm(f)],
] as const)("the store's deps.pex %s: the next build rebuilds it and ships a correct layer", async (what, damage) => {
  const store = join(scratch, `store-${what.replace(/ /g, '-')}`);
  const one = await service(`one${what.length}`);
  await buildLayers(one, store);
  const good = sha(join(one, 'dist', 'layers', 'deps.pex'));
  const stored = join(await storeLayer(store), 'deps.pex');
  await chmod(stored, 0o644).catch(() => undefined);
  await damage(stored);
  const two = await service(`two${what.length}`);
  const res = await buildLayers(two, store);
  expect(res.stderr).toMatch(/deps layer \w+ was damaged/);
  expect(sha(join(two, 'dist', 'layers', 'deps.pex'))).toBe(good);
  expect(await runs(two, `two${what.length}`)).toBe(`two${what.length} 1.0`);
});

it('a warm build with an intact layer reuses it and reports no damage', async () => {
  const store = join(scratch, 'store-warm');
  const one = await service('warm');
  await buildLayers(one, store);
  const res = await buildLayers(one, store);
  expect(res.stderr).toMatch(/deps layer \w+ \(1 wheels\) reused from the store/);
  expect(res.stderr).not.toMatch(/damaged/);
});
