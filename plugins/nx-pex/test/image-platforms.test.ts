/**
 * `--image` with several target platforms: one image index per script with a manifest per
 * platform, each on the base image of its platform and with a dependency layer made of that
 * platform's wheels (a native wheel per architecture here, told apart by a file inside); skopeo
 * copies the whole index. Also the clear errors for a base without the platform and for a
 * target that is not Linux.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import yazl from 'yazl';
import { itWith } from '@nx-pex/testkit';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { blobPath, jsonBytes, layerEntries, MEDIA, readTar, writeBlob, writeLayoutIndex, writeTarLayer } from '@nx-pex/image';
import { ociPlatform } from '@nx-pex/engine';
import { copyPinnedPex, projectToml, requireBuiltCli, runCli, uvLockText, writeWorkspace } from './support';

const exec = promisify(execFile);
jest.setTimeout(180_000);

let scratch: string;
let server: IndexServer;
let ws: string;
let base: string;

function recordHash(d: Buffer): string {
  return `sha256=${createHash('sha256').update(d).digest('base64url')}`;
}

/** A native-looking wheel `native-1.0-cp311-cp311-<tag>.whl` whose `native/arch.txt` names its architecture. */
async function nativeWheel(dir: string, tag: string, arch: string) {
  const filename = `native-1.0-cp311-cp311-${tag}.whl`;
  const files: Array<[string, Buffer]> = [
    ['native/__init__.py', Buffer.from('')],
    ['native/arch.txt', Buffer.from(`${arch}\n`)],
    ['native-1.0.dist-info/METADATA', Buffer.from('Metadata-Version: 2.1\nName: native\nVersion: 1.0\n')],
    ['native-1.0.dist-info/WHEEL', Buffer.from(`Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: cp311-cp311-${tag}\n`)],
  ];
  const record = files.map(([p, d]) => `${p},${recordHash(d)},${d.length}\n`).join('') + 'native-1.0.dist-info/RECORD,,\n';
  const zip = new yazl.ZipFile();
  for (const [p, d] of [...files, ['native-1.0.dist-info/RECORD', Buffer.from(record)] as [string, Buffer]]) zip.addBuffer(d, p, { mtime: new Date(2020, 0, 1) });
  zip.end();
  const path = join(dir, filename);
  await new Promise<void>((res, rej) => zip.outputStream.pipe(createWriteStream(path)).on('close', () => res()).on('error', rej));
  const bytes = await readFile(path);
  return { filename, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

/** An OCI layout with one tiny root filesystem (python3 → python3.11) per architecture. */
async function multiArchBase(dir: string, archs: string[]): Promise<string> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const manifests = [];
  for (const arch of archs) {
    const tmp = join(dir, `${arch}.tmp`);
    const layer = await writeTarLayer(
      layerEntries([
        { path: 'usr/bin/python3', type: 'symlink', target: 'python3.11' },
        { path: 'usr/bin/python3.11', type: 'file', data: Buffer.from(arch), mode: 0o755 },
        { path: 'usr/lib/python3.11', type: 'dir', mode: 0o755 },
      ]),
      tmp,
    );
    await rename(tmp, blobPath(dir, layer.digest));
    const config = { architecture: arch, os: 'linux', config: { Env: ['PATH=/usr/bin:/bin'] }, rootfs: { type: 'layers', diff_ids: [layer.diffId] } };
    const c = await writeBlob(dir, jsonBytes(config), MEDIA.ociConfig);
    const m = await writeBlob(dir, jsonBytes({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: c, layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }] }), MEDIA.ociManifest);
    manifests.push({ ...m, platform: { os: 'linux', architecture: arch } });
  }
  const index = await writeBlob(dir, jsonBytes({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }), MEDIA.ociIndex);
  await writeLayoutIndex(dir, [index]);
  return dir;
}

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-image-platforms-'));
  const wheels = join(scratch, 'wheels');
  await mkdir(wheels);
  await copyPinnedPex(wheels);
  const x86 = await nativeWheel(wheels, 'manylinux2014_x86_64', 'x86_64');
  const arm = await nativeWheel(wheels, 'manylinux2014_aarch64', 'aarch64');
  server = await startIndexServer({ dir: wheels });
  const lock = uvLockText({ dependencies: ['native'], registry: server.url, wheels: [] }).replace(
    /\n$/,
    `\n\n[[package]]\nname = "native"\nversion = "1.0"\nsource = { registry = "${server.url}" }\nwheels = [\n` +
      [x86, arm].map((w) => `  { url = "${server.url.replace(/\/simple$/, '')}/files/${w.filename}", hash = "sha256:${w.sha256}", size = ${w.size} },\n`).join('') +
      ']\n',
  );
  base = await multiArchBase(join(scratch, 'base'), ['amd64', 'arm64']);
  ws = await writeWorkspace(join(scratch, 'ws'), {
    pyproject:
      projectToml('app', ['native']) +
      `\n[tool.nx-pex]\nimage = true\nimage-base = "${base}"\nplatforms = ["manylinux2014_x86_64-cp-311-cp311", "manylinux2014_aarch64-cp-311-cp311"]\n`,
    sources: { 'main.py': 'def main():\n    print("app")\n' },
    lock,
  });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const build = (...args: string[]) => runCli(['build', '--project', join(ws, 'app'), '--output-dir', join(scratch, 'dist'), '--store', join(scratch, 'store'), ...args], { env: { PIP_INDEX_URL: server.url } });

it('writes one image index per script with a manifest per platform, each with its platform\'s wheels', async () => {
  const r = await build();
  if (r.code !== 0) throw new Error(r.stderr);
  const layout = join(scratch, 'dist', 'image');
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  expect(index.manifests).toHaveLength(1);
  expect(index.manifests[0]).toMatchObject({ mediaType: MEDIA.ociIndex, annotations: { 'org.opencontainers.image.ref.name': 'app' } });
  const inner = JSON.parse(await readFile(blobPath(layout, index.manifests[0].digest), 'utf8'));
  expect(inner.manifests.map((m: { platform: object }) => m.platform)).toEqual([
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux' },
  ]);
  for (const [i, arch] of [['0', 'x86_64'], ['1', 'aarch64']] as const) {
    const manifest = JSON.parse(await readFile(blobPath(layout, inner.manifests[Number(i)].digest), 'utf8'));
    const deps = readTar(gunzipSync(await readFile(blobPath(layout, manifest.layers[1].digest))), 'deps', () => true);
    expect(deps.find((e) => e.path === 'opt/venv/lib/python3.11/site-packages/native/arch.txt')!.data!.toString()).toBe(`${arch}\n`);
    const baseLayer = readTar(gunzipSync(await readFile(blobPath(layout, manifest.layers[0].digest))), 'base', () => true);
    expect(baseLayer.find((e) => e.path === 'usr/bin/python3.11')!.data!.toString()).toBe(arch === 'x86_64' ? 'amd64' : 'arm64');
  }
});

itWith(['skopeo'], 'is an index skopeo copies with every platform', async () => {
  const out = join(scratch, 'copied');
  await exec('skopeo', ['copy', '--all', `oci:${join(scratch, 'dist', 'image')}:app`, `oci:${out}:app`]);
  const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci:${out}:app`]);
  expect(JSON.parse(stdout).manifests).toHaveLength(2);
});

it('says which platform a base image lacks, and maps Linux targets to OCI platforms (refusing others)', async () => {
  const armOnly = await multiArchBase(join(scratch, 'arm-only'), ['arm64']);
  const r = await build('--image-base', armOnly);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/The base image .*arm-only has no linux\/amd64 image \(it has linux\/arm64\)/);
  const target = (tag: string) => ({ id: tag, pythonVersion: '3.11', markerEnvironment: {} as never, supportedTags: [tag] });
  expect(() => ociPlatform(target('cp311-cp311-macosx_11_0_arm64'), 'app')).toThrow(/app: image needs Linux targets, but cp311-cp311-macosx_11_0_arm64 is not one/);
  expect(ociPlatform(target('cp311-cp311-musllinux_1_2_aarch64'), 'app')).toEqual({ os: 'linux', architecture: 'arm64' });
  expect(ociPlatform(target('cp311-cp311-manylinux_2_17_armv7l'), 'app')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
});
