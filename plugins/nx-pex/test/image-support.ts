/**
 * What the image tests run against: Debian's docker-registry on 127.0.0.1 (a config in a temp
 * dir), a counting proxy in front of it (every request body's bytes, by method and by blob
 * digest, so a test can say what the registry received), podman with a store of its own, and an
 * OCI layout made from the debootstrap root filesystem that tools/docker/start.sh leaves in
 * .cache/docker. Not a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { jsonBytes, MEDIA, readLayerTar, writeBlob, writeGzipLayer, writeLayoutIndex, blobPath } from '@nx-pex/image';
import { rename } from 'node:fs/promises';
import { freePort } from './workspace-support';
import { REPO } from './support';

export const ROOTFS_TARBALL = join(REPO, '.cache', 'docker', 'bookworm-python3.tar');

/** An OCI layout at `dir` holding the debootstrap root filesystem as one layer (what `podman import` would make). */
export async function baseLayoutFromRootfs(dir: string): Promise<string> {
  if (!existsSync(ROOTFS_TARBALL)) {
    throw new Error(`${ROOTFS_TARBALL} is missing: run tools/docker/start.sh (as root; .ci/run does) to make it with debootstrap.`);
  }
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const tmp = join(dir, 'blobs', 'sha256', 'rootfs.tmp');
  const layer = await writeGzipLayer([await readLayerTar(ROOTFS_TARBALL)], tmp);
  await rename(tmp, blobPath(dir, layer.digest));
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/bash'] },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
  };
  const c = await writeBlob(dir, jsonBytes(config), MEDIA.ociConfig);
  const manifest = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: c, layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }] };
  const m = await writeBlob(dir, jsonBytes(manifest), MEDIA.ociManifest);
  await writeLayoutIndex(dir, [{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'bookworm' } }]);
  return dir;
}

export interface Registry {
  /** `127.0.0.1:<port>` of the counting proxy: push through it. */
  host: string;
  /** `127.0.0.1:<port>` of the registry itself. */
  direct: string;
  /** Request body bytes received, by method. */
  bodyBytes: Record<string, number>;
  /** Blob uploads completed (PUT ...?digest=), by digest, with the bytes of that upload. */
  uploads: Array<{ digest: string; bytes: number }>;
  /** Successful cross-repository mounts. */
  mounts: string[];
  /** Manifests PUT, with their sizes. */
  manifests: Array<{ ref: string; bytes: number }>;
  reset(): void;
  close(): Promise<void>;
}

/** Starts docker-registry on a free 127.0.0.1 port with its storage in `dir`, and a counting proxy before it. */
export async function startRegistry(dir: string): Promise<Registry> {
  const port = await freePort();
  await mkdir(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const r: Registry = {
    host: '',
    direct: `127.0.0.1:${port}`,
    bodyBytes: {},
    uploads: [],
    mounts: [],
    manifests: [],
    reset() {
      r.bodyBytes = {};
      r.uploads = [];
      r.mounts = [];
      r.manifests = [];
    },
    close: async () => {
      await new Promise<void>((res) => proxy.close(() => res()));
      child.kill('SIGTERM');
    },
  };
  // Uploads of one blob may come in several requests (PATCH chunks, then the PUT): by upload URL.
  const pending = new Map<string, number>();
  const proxy: Server = createServer((req, res) => {
    let bytes = 0;
    const url = new URL(req.url ?? '/', 'http://x');
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      const status = up.statusCode ?? 0;
      const uploadId = url.pathname.match(/\/blobs\/uploads\/([^/?]+)/)?.[1];
      if (req.method === 'PATCH' && uploadId && status === 202) pending.set(uploadId, (pending.get(uploadId) ?? 0) + bytes);
      if (req.method === 'PUT' && uploadId && status === 201) {
        r.uploads.push({ digest: url.searchParams.get('digest') ?? '', bytes: (pending.get(uploadId) ?? 0) + bytes });
        pending.delete(uploadId);
      }
      if (req.method === 'POST' && url.searchParams.get('mount') && status === 201) r.mounts.push(url.searchParams.get('mount')!);
      const manifest = url.pathname.match(/\/manifests\/([^/]+)$/)?.[1];
      if (req.method === 'PUT' && manifest && status === 201) r.manifests.push({ ref: manifest, bytes });
      res.writeHead(status, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.on('data', (d: Buffer) => {
      bytes += d.length;
      r.bodyBytes[req.method ?? '?'] = (r.bodyBytes[req.method ?? '?'] ?? 0) + d.length;
    });
    req.pipe(upstream);
  });
  await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', () => res()));
  const address = proxy.address();
  r.host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return r;
}

/** podman with its own storage under `dir` (vfs, cgroupfs, no default ulimits: what works as root in a container). */
export async function podmanSetup(dir: string): Promise<{ args: string[]; env: NodeJS.ProcessEnv }> {
  await mkdir(dir, { recursive: true });
  const conf = join(dir, 'containers.conf');
  await writeFile(conf, '[containers]\ndefault_ulimits = []\n');
  return {
    args: ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'],
    env: { ...process.env, CONTAINERS_CONF: conf },
  };
}
