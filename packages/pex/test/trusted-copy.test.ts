/**
 * Store wheels are copied without hashing only while they are as the store verified them (their
 * identity: size, inode, mtime, ctime); one changed after that is hashed as it is read and a
 * damaged one is refused, in every layout. A wheel whose size is not the locked size is refused.
 */
import { copyFile, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRuntime, UserError, writePex, type PexDependency, type PexRuntime } from '@nx-pex/pex';
import { cleanupTempDirs, makeWheel, runtimeWheelPath, tempDir, type FixtureWheel } from './support';

let runtime: PexRuntime;
let dir: string;
let wheel: FixtureWheel;

beforeAll(async () => {
  runtime = await loadRuntime(runtimeWheelPath());
  dir = await tempDir('nx-pex-trusted-copy-');
  wheel = await makeWheel(join(dir, 'wheels'), 'tiny', '1.0', { 'tiny.py': 'def main():\n    print("tiny")\n' });
});
afterAll(cleanupTempDirs);

async function identity(path: string) {
  const st = await stat(path, { bigint: true });
  return { size: Number(st.size), ino: st.ino.toString(), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString() };
}

const build = (out: string, dep: PexDependency, extra: { layout?: 'zipapp' | 'packed' | 'loose'; preInstallWheels?: boolean } = {}) =>
  writePex(out, { runtime, dependencies: [dep], sources: [], requirements: ['tiny'], entryPoint: 'tiny:main', ...extra });

const cases = [{ layout: 'zipapp' as const }, { layout: 'packed' as const }, { layout: 'loose' as const }, { preInstallWheels: true }];

it.each(cases)('refuses a verified store wheel damaged since (%o)', async (extra) => {
  const copy = join(dir, `copy-${JSON.stringify(extra).replace(/\W/g, '')}.whl`);
  await copyFile(wheel.path, copy);
  const dep: PexDependency = { filename: wheel.filename, path: copy, sha256: wheel.sha256, trusted: true, size: (await stat(copy)).size, identity: await identity(copy) };
  // As it was verified: written without being hashed.
  await expect(build(join(dir, `ok-${Object.values(extra)[0]}`), dep, extra)).resolves.toBeDefined();
  const before = await stat(copy);
  const bytes = await readFile(copy);
  bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 0xff;
  await writeFile(copy, bytes);
  await utimes(copy, before.atime, before.mtime);
  const err = await build(join(dir, `bad-${Object.values(extra)[0]}`), dep, extra).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(/tiny-1\.0-py3-none-any\.whl.*expected sha256/);
});

it('refuses a store wheel whose size is not the locked size', async () => {
  const copy = join(dir, 'short.whl');
  await writeFile(copy, (await readFile(wheel.path)).subarray(0, 100));
  const dep: PexDependency = { filename: wheel.filename, path: copy, sha256: wheel.sha256, trusted: true, size: (await stat(wheel.path)).size };
  const err = await build(join(dir, 'short.pex'), dep).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(/tiny-1\.0-py3-none-any\.whl.*100 bytes, but the lock says/);
});
