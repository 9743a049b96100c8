/**
 * A wheel may hold stored (uncompressed) entries as well as deflated ones: every path that reads
 * a wheel's contents must read both, and must blame a wheel only when its archive is broken.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRuntime, UserError, writeLayers, writePex, type PexOptions, type PexRuntime } from '@nx-pex/pex';
import { cleanupTempDirs, makeWheelFrom, run, runtimeWheelPath, sha256, tempDir, type FixtureWheel } from './support';

let runtime: PexRuntime;
let dir: string;
let wheel: FixtureWheel;

beforeAll(async () => {
  runtime = await loadRuntime(runtimeWheelPath());
  dir = await tempDir('nx-pex-stored-');
  const distInfo = 'storedlib-1.0.dist-info';
  // Every entry stored (method 0), RECORD included, as some wheel builders write them.
  wheel = await makeWheelFrom(
    join(dir, 'wheels'),
    'storedlib-1.0-py3-none-any.whl',
    [
      { name: 'storedlib/__init__.py', data: 'def main():\n    print("stored ok")\n', compress: false },
      { name: `${distInfo}/METADATA`, data: 'Metadata-Version: 2.1\nName: storedlib\nVersion: 1.0\n', compress: false },
      { name: `${distInfo}/WHEEL`, data: 'Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n', compress: false },
      { name: `${distInfo}/entry_points.txt`, data: '[console_scripts]\nstored-tool = storedlib:main\n', compress: false },
    ],
    { compressRecord: false },
  );
});
afterAll(cleanupTempDirs);

const base = (extra: Partial<PexOptions> = {}): PexOptions => ({
  runtime,
  dependencies: [{ filename: wheel.filename, path: wheel.path, sha256: wheel.sha256 }],
  sources: [],
  requirements: ['storedlib'],
  ...extra,
});

const runPex = (path: string) => run('python3', [path], { env: { PEX_ROOT: join(dir, 'pex-root') } }).check();

it('reads a wheel whose entries are stored when pre-installing it (zipapp and loose)', async () => {
  const out = join(dir, 'pre.pex');
  await writePex(out, base({ preInstallWheels: true, entryPoint: 'storedlib:main' }));
  expect(runPex(out)).toBe('stored ok\n');
  const loose = join(dir, 'pre-loose');
  await writePex(loose, base({ preInstallWheels: true, entryPoint: 'storedlib:main', layout: 'loose' }));
  expect(runPex(join(loose, '__main__.py'))).toBe('stored ok\n');
});

it('finds a console script (-c) in a wheel whose entries are stored', async () => {
  const out = join(dir, 'script.pex');
  const res = await writePex(out, base({ script: 'stored-tool' }));
  expect(res.pexInfo.entry_point).toBe('storedlib:main');
  expect(runPex(out)).toBe('stored ok\n');
  const layers = await writeLayers(join(dir, 'layers'), base({ script: 'stored-tool' }));
  expect(layers.srcsResult.pexInfo.entry_point).toBe('storedlib:main');
});

it('validates an entry point against a wheel whose entries are stored', async () => {
  await expect(writePex(join(dir, 'valid.pex'), base({ entryPoint: 'storedlib:main', validateEntryPoint: true, layout: 'packed' }))).resolves.toBeDefined();
  await expect(writePex(join(dir, 'invalid.pex'), base({ entryPoint: 'storedlib:nope', validateEntryPoint: true }))).rejects.toThrow(/nope/);
});

it('still calls a wheel whose stored entry is damaged corrupt, naming the file', async () => {
  const bytes = Buffer.from(await readFile(wheel.path));
  // Damage the first stored entry's data (after its 30-byte local header and name): the CRC no longer matches.
  const at = 30 + 'storedlib/__init__.py'.length + 2;
  bytes[at] = bytes[at]! ^ 0xff;
  const broken = join(dir, 'broken', wheel.filename);
  await mkdir(join(dir, 'broken'), { recursive: true });
  await writeFile(broken, bytes);
  const err = await writePex(join(dir, 'broken.pex'), {
    ...base({ preInstallWheels: true, entryPoint: 'storedlib:main' }),
    dependencies: [{ filename: wheel.filename, path: broken, sha256: sha256(bytes) }],
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(/storedlib-1\.0-py3-none-any\.whl/);
  expect((err as Error).message).toMatch(/corrupt|crc/i);
});
