/**
 * Deterministic tar and gzip layers (read back by GNU tar and gzip, the real tools), the base
 * image read from a root filesystem tarball and from layers with whiteouts, the interpreter found
 * in it, and a whole image: the same inputs in two stores give the same digests.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { WheelStore } from '@nx-pex/store';
import {
  blobPath,
  buildImage,
  findBasePython,
  jsonBytes,
  layerEntries,
  loadBaseImage,
  MEDIA,
  readLayoutImages,
  readTar,
  tarChunks,
  writeBlob,
  writeLayoutIndex,
  writeTarLayer,
  type TarEntry,
} from '../src';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nx-pex-image-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = (path: string, text: string, mode = 0o644): TarEntry => ({ path, type: 'file', data: Buffer.from(text), mode });
const LONG = `deep/${'d'.repeat(120)}/${'n'.repeat(150)}.py`;

describe('layers', () => {
  it('are sorted, with parents, fixed owners and times, PAX for long names; GNU tar reads them', async () => {
    const entries = layerEntries([file('b/z.txt', 'z'), file('a.txt', 'a', 0o755), { path: 'b/link', type: 'symlink', target: '../a.txt' }, file(LONG, 'long'), file('ü/ñ.txt', 'utf8')]);
    expect(entries.map((e) => e.path)).toEqual(['a.txt', 'b', 'b/link', 'b/z.txt', 'deep', `deep/${'d'.repeat(120)}`, LONG, 'ü', 'ü/ñ.txt']);
    const tar = join(dir, 'l.tar');
    await writeFile(tar, Buffer.concat([...tarChunks(entries)]));
    const listing = execFileSync('tar', ['--list', '--verbose', '--numeric-owner', '--full-time', '-f', tar], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toHaveLength(9);
    for (const line of listing) expect(line).toMatch(/ 0\/0 .* 1980-01-01 00:00:00 /);
    expect(listing[0]).toMatch(/^-rwxr-xr-x .* a\.txt$/);
    expect(listing[2]).toMatch(/^lrwxrwxrwx .* b\/link -> \.\.\/a\.txt$/);
    expect(listing[6]).toMatch(new RegExp(`${LONG.replace(/\./g, '\\.')}$`));
    expect(listing[8]).toMatch(/ü\/ñ\.txt$/);
    const out = join(dir, 'x');
    await mkdir(out);
    execFileSync('tar', ['-x', '-f', tar, '-C', out]);
    expect(await readFile(join(out, LONG), 'utf8')).toBe('long');
    // Our reader gives back what we wrote.
    const back = readTar(await readFile(tar), 'l.tar', () => true);
    expect(back.map((e) => e.path)).toEqual(entries.map((e) => e.path));
    expect(back.find((e) => e.path === LONG)!.data!.toString()).toBe('long');
  });

  it('are gzipped the same way every time, with no name or time in the header; gzip accepts them', async () => {
    const entries = layerEntries([file('app/x.py', 'print(1)\n'.repeat(1000))]);
    const a = await writeTarLayer(entries, join(dir, 'a.gz'));
    const b = await writeTarLayer(entries, join(dir, 'b.gz'));
    expect(a).toEqual(b);
    const bytes = await readFile(join(dir, 'a.gz'));
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(a.digest);
    expect(bytes.subarray(0, 10)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
    execFileSync('gzip', ['-t', join(dir, 'a.gz')]);
    const tar = gunzipSync(bytes);
    expect(`sha256:${createHash('sha256').update(tar).digest('hex')}`).toBe(a.diffId);
    expect(tar.equals(Buffer.concat([...tarChunks(entries)]))).toBe(true);
  });

  it('refuse paths that escape the layer, and a file with entries below it', () => {
    expect(() => layerEntries([file('../etc/passwd', 'x')])).toThrow(/must be relative/);
    expect(() => layerEntries([file('a', 'x'), file('a/b', 'y')])).toThrow(/both the file 'a'/);
  });
});

/** A root filesystem tarball: python3 → python3.12 in /usr/local/bin, its lib dir, and Debian's default PATH. */
async function rootfsTar(path: string, python = 'python3.12'): Promise<void> {
  const entries = layerEntries([
    { path: 'usr/local/bin/python3', type: 'symlink', target: python },
    file(`usr/local/bin/${python}`, '\x7fELF', 0o755),
    { path: `usr/local/lib/${python}`, type: 'dir', mode: 0o755 },
    file('etc/os-release', 'ID=test\n'),
  ]);
  await writeFile(path, Buffer.concat([...tarChunks(entries)]));
}

describe('base images', () => {
  it('import a root filesystem tarball into the store once, and find its interpreter', async () => {
    const store = new WheelStore(join(dir, 'store'));
    await rootfsTar(join(dir, 'rootfs.tar'));
    const base = await loadBaseImage(join(dir, 'rootfs.tar'), { store, cwd: dir });
    expect(base.images).toHaveLength(1);
    expect(base.images[0]!.config).toMatchObject({ os: 'linux', architecture: 'amd64' });
    expect(await findBasePython(base.images[0]!, new WheelStore(join(dir, 'store')))).toEqual({ path: '/usr/local/bin/python3.12', version: '3.12' });
    const again = await loadBaseImage(join(dir, 'rootfs.tar'), { store, cwd: dir });
    expect(again.images[0]!.descriptor.digest).toBe(base.images[0]!.descriptor.digest);
  });

  it('apply whiteouts of later layers when looking for python3', async () => {
    const store = new WheelStore(join(dir, 'store'));
    const layout = join(dir, 'layout');
    const l1 = await writeTarLayer(layerEntries([{ path: 'usr/bin/python3', type: 'symlink', target: 'python3.10' }, file('usr/bin/python3.10', 'x', 0o755)]), join(layout, 'l1.tmp'));
    const l2 = await writeTarLayer(
      layerEntries([file('usr/bin/.wh.python3', ''), file('usr/bin/.wh.python3.10', ''), { path: 'opt/py/bin/python3', type: 'symlink', target: '/opt/py/bin/python3.13' }, file('opt/py/bin/python3.13', 'x', 0o755)]),
      join(layout, 'l2.tmp'),
    );
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    await rename(join(layout, 'l1.tmp'), blobPath(layout, l1.digest));
    await rename(join(layout, 'l2.tmp'), blobPath(layout, l2.digest));
    const config = { architecture: 'arm64', os: 'linux', config: { Env: ['PATH=/usr/bin:/opt/py/bin'] }, rootfs: { type: 'layers', diff_ids: [l1.diffId, l2.diffId] } };
    const c = await writeBlob(layout, jsonBytes(config), MEDIA.ociConfig);
    const m = await writeBlob(layout, jsonBytes({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: c, layers: [l1, l2].map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })) }), MEDIA.ociManifest);
    await writeLayoutIndex(layout, [m]);
    const [image] = await readLayoutImages(layout);
    expect(await findBasePython(image!, store)).toEqual({ path: '/opt/py/bin/python3.13', version: '3.13' });
  });

  it('name what is wrong with an imageBase that is neither a path nor a reference', async () => {
    const store = new WheelStore(join(dir, 'store'));
    await expect(loadBaseImage('./missing-dir', { store, cwd: dir })).rejects.toThrow(/no such file or directory/);
    await expect(loadBaseImage('Not A Reference!', { store, cwd: dir })).rejects.toThrow(/neither an existing OCI layout directory/);
    await mkdir(join(dir, 'plain'));
    await expect(loadBaseImage(join(dir, 'plain'), { store, cwd: dir })).rejects.toThrow(/not an OCI image layout/);
  });
});

describe('buildImage', () => {
  it('gives the same digests from two stores, and changes only the sources layer, config and manifest with the sources', async () => {
    await rootfsTar(join(dir, 'rootfs.tar'));
    await mkdir(join(dir, 'src', 'app'), { recursive: true });
    await writeFile(join(dir, 'src', 'app', '__init__.py'), 'def main():\n    print("hi")\n');
    const make = async (store: string, out: string) => {
      const s = new WheelStore(join(dir, store));
      const base = await loadBaseImage(join(dir, 'rootfs.tar'), { store: s, cwd: dir });
      await mkdir(join(dir, out));
      return buildImage({
        store: s,
        dir: join(dir, out),
        base,
        platforms: [{ platform: { os: 'linux', architecture: 'amd64' }, wheels: [], pythonVersion: '3.12.4' }],
        sources: [{ path: 'app/__init__.py', absPath: join(dir, 'src', 'app', '__init__.py') }],
        scripts: [{ name: 'app', entryPoint: 'app:main' }],
        project: 'app',
        ports: ['8000'],
        env: { PYTHONDONTWRITEBYTECODE: '' },
        labels: { 'dev.nx-pex.lock.sha256': 'abc' },
      });
    };
    const one = await make('s1', 'o1');
    const two = await make('s2', 'o2');
    expect(two.images).toEqual(one.images);
    await writeFile(join(dir, 'src', 'app', '__init__.py'), 'def main():\n    print("edited")\n');
    const three = await make('s1', 'o3');
    const [m1, m3] = [one, three].map((r) => r.images[0]!.manifests[0]!);
    expect(m3.depsLayer).toBe(m1!.depsLayer);
    expect(m3.sourcesLayer).not.toBe(m1!.sourcesLayer);
    const manifest = JSON.parse(await readFile(blobPath(join(dir, 'o1'), one.images[0]!.digest), 'utf8'));
    const config = JSON.parse(await readFile(blobPath(join(dir, 'o1'), manifest.config.digest), 'utf8'));
    expect(config.config).toEqual({
      ExposedPorts: { '8000/tcp': {} },
      Env: ['PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'VIRTUAL_ENV=/opt/venv', 'PYTHONDONTWRITEBYTECODE='],
      Entrypoint: ['/opt/venv/bin/app'],
      WorkingDir: '/',
      Labels: { 'dev.nx-pex.lock.sha256': 'abc' },
    });
    // The sources layer: the code in site-packages and the console script.
    const srcs = readTar(gunzipSync(await readFile(blobPath(join(dir, 'o1'), m1!.sourcesLayer))), 'sources', () => true);
    const script = srcs.find((e) => e.path === 'opt/venv/bin/app')!;
    expect(script.mode).toBe(0o755);
    expect(script.data!.toString()).toMatch(/^#!\/opt\/venv\/bin\/python\n[\s\S]*from app import main/);
    expect(srcs.map((e) => e.path)).toContain('opt/venv/lib/python3.12/site-packages/app/__init__.py');
    // The dependency layer: the venv pointing at the base's interpreter.
    const deps = readTar(gunzipSync(await readFile(blobPath(join(dir, 'o1'), m1!.depsLayer))), 'deps', () => true);
    expect(deps.find((e) => e.path === 'opt/venv/bin/python')).toMatchObject({ type: 'symlink', linkname: '/usr/local/bin/python3.12' });
    expect(deps.find((e) => e.path === 'opt/venv/pyvenv.cfg')!.data!.toString()).toBe('home = /usr/local/bin\ninclude-system-site-packages = false\nversion = 3.12\n');
  });

  it('refuses a base whose python is not the one the build targets', async () => {
    await rootfsTar(join(dir, 'rootfs.tar'), 'python3.11');
    const store = new WheelStore(join(dir, 'store'));
    const base = await loadBaseImage(join(dir, 'rootfs.tar'), { store, cwd: dir });
    await mkdir(join(dir, 'out'));
    await expect(
      buildImage({ store, dir: join(dir, 'out'), base, platforms: [{ platform: { os: 'linux', architecture: 'amd64' }, wheels: [], pythonVersion: '3.12.1' }], sources: [], scripts: [{ name: 'x', entryPoint: 'x:main' }], project: 'x' }),
    ).rejects.toThrow(/has Python 3\.11 \(\/usr\/local\/bin\/python3\.11\) but the build targets Python 3\.12\.1/);
  });
});
