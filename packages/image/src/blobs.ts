/**
 * Blobs: content-addressed files named by their sha256 (`blobs/sha256/<hex>` in an OCI layout),
 * written atomically, and layers made from tar entries: the tar stream's sha256 is the layer's
 * diff id, its deterministic gzip (fixed header: no name, no mtime, OS "unknown") the blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { constants, crc32, createDeflateRaw, createGunzip } from 'node:zlib';
import { tarChunks, type TarEntry } from './tar';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** A layer blob and what its config records of it. */
export interface LayerBlob extends Descriptor {
  /** sha256 of the uncompressed tar (`rootfs.diff_ids`). */
  diffId: string;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `sha256:<hex>` → `<hex>`, refusing anything else. */
export function digestHex(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${digest}`);
  return m[1]!;
}

export function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digestHex(digest));
}

function tempName(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Writes `data` as a blob of the layout at `layoutDir` (nothing when it is there already); returns its descriptor. */
export async function writeBlob(layoutDir: string, data: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(data);
  const path = blobPath(layoutDir, digest);
  const have = await stat(path).catch(() => undefined);
  if (!have || have.size !== data.length) {
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempName(path);
    await writeFile(tmp, data, { mode: 0o644 });
    await rename(tmp, path);
  }
  return { mediaType, digest, size: data.length };
}

/** The sha256 digest and size of a file. */
export async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

/** gzip's member header with no file name, no mtime, no extra flags and OS 255 ("unknown"): the same bytes on every machine. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

/**
 * Writes a gzip-compressed layer made of `chunks` (a tar stream) into `dir` as
 * `blobs/sha256/<digest>`-style file `dest` (atomically); returns its digest, size and diff id.
 */
export async function writeGzipLayer(chunks: Iterable<Buffer> | AsyncIterable<Buffer>, dest: string, level = 6): Promise<LayerBlob> {
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let crc = 0;
  let isize = 0;
  let size = 0;
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempName(dest);
  const fh = await open(tmp, 'w', 0o644);
  const put = async (b: Buffer) => {
    blob.update(b);
    size += b.length;
    await fh.write(b);
  };
  try {
    const deflate = createDeflateRaw({ level, memLevel: 8, strategy: constants.Z_DEFAULT_STRATEGY });
    const feed = (async () => {
      try {
        for await (const c of chunks) {
          if (c.length === 0) continue;
          diff.update(c);
          crc = crc32(c, crc);
          isize = (isize + c.length) >>> 0;
          if (!deflate.write(c)) await once(deflate, 'drain');
        }
        deflate.end();
      } catch (e) {
        deflate.destroy(e as Error);
      }
    })();
    await put(GZIP_HEADER);
    for await (const c of deflate) await put(c as Buffer);
    await feed;
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(isize, 4);
    await put(trailer);
    await fh.close();
    const digest = `sha256:${blob.digest('hex')}`;
    await rename(tmp, dest);
    return { mediaType: MEDIA.ociLayerGzip, digest, size, diffId: `sha256:${diff.digest('hex')}` };
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/** A layer from tar entries (already ordered, see `layerEntries`), gzipped into `dest`. */
export function writeTarLayer(entries: readonly TarEntry[], dest: string): Promise<LayerBlob> {
  return writeGzipLayer(tarChunks(entries), dest);
}

/** The bytes of a (possibly gzipped) layer file, uncompressed. */
export async function readLayerTar(path: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(2);
  const fh = await open(path, 'r');
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const stream = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
