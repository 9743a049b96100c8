/**
 * The package's sizes come from npm at pack time (scripts/pack.js, `npm run pack-sizes`), and the
 * docs carry the commands to make and publish the package, not numbers written by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, REPO } from './support';

jest.setTimeout(180_000);

const PLUGIN = join(REPO, 'plugins', 'nx-pex');

it('scripts/pack.js reports what npm pack measures', async () => {
  const { stdout: npm } = await exec('npm', ['pack', '--dry-run', '--json'], { cwd: PLUGIN, maxBuffer: 64 << 20 });
  const [info] = JSON.parse(npm.slice(npm.indexOf('['))) as Array<{ size: number; unpackedSize: number; entryCount: number; files: Array<{ path: string; size: number }> }>;
  const { stdout } = await exec(process.execPath, [join(PLUGIN, 'scripts', 'pack.js'), '--dry-run', '--json'], { cwd: REPO, maxBuffer: 64 << 20 });
  const ours = JSON.parse(stdout) as { packed: number; unpacked: number; files: number; libIndex: number };
  expect(ours).toMatchObject({ unpacked: info!.unpackedSize, files: info!.entryCount, libIndex: info!.files.find((f) => f.path === 'lib/index.js')!.size });
  // The tarball's bytes may differ by a few in its compression between runs of the bundle; its size is npm's.
  expect(Math.abs(ours.packed - info!.size)).toBeLessThan(1024);
  const { stdout: text } = await exec(process.execPath, [join(PLUGIN, 'scripts', 'pack.js'), '--dry-run'], { cwd: REPO, maxBuffer: 64 << 20 });
  expect(text).toMatch(/^nx-pex-\d+\.\d+\.\d+\.tgz: nx-pex@\d+\.\d+\.\d+\npacked \d+\.\d MB, unpacked \d+\.\d MB, \d+ files\n {2}pex\/pex-/);
});

it('docs/install.md gives the commands to pack, publish and install, and no hand-written sizes', () => {
  const doc = readFileSync(join(REPO, 'docs', 'install.md'), 'utf8');
  for (const command of ['cd plugins/nx-pex', 'npm pack', 'npm publish nx-pex-0.1.0.tgz --registry https://npm.example.com/', 'registry=https://npm.example.com/', '//npm.example.com/:_authToken=', 'npx nx add nx-pex', 'npm run pack-sizes']) {
    expect(doc).toContain(command);
  }
  expect(doc).not.toMatch(/\d+(\.\d+)? MB (packed|unpacked|installed)|packed,? \d/);
});
