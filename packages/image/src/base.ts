/**
 * The base image of a built image, from `imageBase`: an OCI layout directory (`DIR` or
 * `DIR:REF`), a tarball on disk (an OCI layout tarred, a `docker save` archive, or a plain root
 * filesystem tar such as debootstrap makes), or a reference pulled from a registry. Everything
 * but a local layout is kept in the store as an OCI layout, under the digest of what it is made
 * from, so that later builds read it without the network or the tarball. The interpreter is
 * found in the base's files: `python3` on its PATH, symlinks followed, its `pythonX.Y`.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, realpath, mkdir, writeFile, rename } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as zlibGunzip } from 'node:zlib';
import { ensureLayer, type WheelStore } from '@nx-pex/store';
import { blobPath, MEDIA, readLayerTar, sha256, writeBlob, writeGzipLayer, type Descriptor, type Platform } from './blobs';
import { ImageError } from './errors';
import { isLayout, jsonBytes, platformOf, readLayoutImages, writeLayoutIndex, type ImageConfig, type ImageManifest, type LayoutImage } from './layout';
import { parseReference, RegistryClient, formatReference } from './registry';
import { readTar } from './tar';

export interface BaseImage {
  /** As the user gave it. */
  spec: string;
  /** The registry reference it was pulled from (for the `base.name` annotation), when it was. */
  reference?: string;
  images: LayoutImage[];
}

export interface BaseOptions {
  store: WheelStore;
  env?: NodeJS.ProcessEnv;
  /** Where a relative path is resolved. */
  cwd: string;
  /** The architecture of a plain root filesystem tar (it does not say); default amd64. */
  architecture?: string;
  offline?: boolean;
  insecure?: boolean;
  log?: (line: string) => void;
}

export interface BasePython {
  /** Absolute path of the interpreter in the image, symlinks followed: `/usr/bin/python3.11`. */
  path: string;
  /** `3.11`. */
  version: string;
}

function cacheKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** A small JSON memo in the store (a pointer from a file identity or tag to a digest). */
async function memo(store: WheelStore, name: string, value?: string): Promise<string | undefined> {
  const path = join(store.root, 'images', 'memo', name);
  if (value === undefined) return readFile(path, 'utf8').catch(() => undefined);
  await mkdir(join(store.root, 'images', 'memo'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, value);
  await rename(tmp, path);
  return value;
}

/** A layout in the store made from a tarball's entries. */
async function layoutFromTarball(file: string, o: BaseOptions): Promise<string> {
  const st = await stat(file);
  const identity = cacheKey('tarball', await realpath(file), String(st.size), String(st.mtimeMs), String(st.ino));
  const known = await memo(o.store, identity);
  if (known && /^[0-9a-f]{64}$/.test(known)) {
    const dir = join(o.store.root, 'layers', known);
    if (await isLayout(dir)) return dir;
  }
  const bytes = await readLayerTar(file);
  const key = cacheKey('base-tarball', createHash('sha256').update(bytes).digest('hex'), o.architecture ?? 'amd64');
  const layer = await ensureLayer(o.store, key, async (dir) => {
    const entries = readTar(bytes, file, (p) => p === 'oci-layout' || p === 'index.json' || p === 'manifest.json' || p.startsWith('blobs/') || /\.(json|tar|tar\.gz)$/.test(p) || /\/layer\.tar$/.test(p));
    const byPath = new Map(entries.map((e) => [e.path, e]));
    if (byPath.has('oci-layout') && byPath.has('index.json')) {
      for (const e of entries) {
        if (e.type !== 'file' || !e.data) continue;
        if (e.path !== 'oci-layout' && e.path !== 'index.json' && !e.path.startsWith('blobs/')) continue;
        await mkdir(join(dir, posix.dirname(e.path)), { recursive: true });
        await writeFile(join(dir, e.path), e.data);
      }
      return;
    }
    const manifestJson = byPath.get('manifest.json');
    if (manifestJson?.data) {
      // `docker save`: [{Config, RepoTags, Layers}]; layers are uncompressed tars (or gzip).
      const saved = JSON.parse(manifestJson.data.toString('utf8')) as Array<{ Config: string; Layers: string[] }>;
      if (!Array.isArray(saved) || saved.length === 0) throw new ImageError(`${file}: manifest.json lists no image.`);
      const first = saved[0]!;
      const configBytes = byPath.get(first.Config)?.data;
      if (!configBytes) throw new ImageError(`${file}: the config ${first.Config} named by manifest.json is missing.`);
      const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
      const layers: Descriptor[] = [];
      for (const l of first.Layers) {
        const data = byPath.get(l)?.data;
        if (!data) throw new ImageError(`${file}: the layer ${l} named by manifest.json is missing.`);
        const tarBytes = data[0] === 0x1f && data[1] === 0x8b ? await gunzip(data) : data;
        const tmp = join(dir, 'blobs', 'sha256', `layer-${layers.length}.tmp`);
        const blob = await writeGzipLayer([tarBytes], tmp);
        await rename(tmp, blobPath(dir, blob.digest));
        layers.push({ mediaType: MEDIA.ociLayerGzip, digest: blob.digest, size: blob.size });
      }
      const configDesc = await writeBlob(dir, configBytes, MEDIA.ociConfig);
      const manifest: ImageManifest = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDesc, layers };
      const m = await writeBlob(dir, jsonBytes(manifest), MEDIA.ociManifest);
      await writeLayoutIndex(dir, [{ ...m, platform: platformOf(config) }]);
      return;
    }
    // A root filesystem: one layer, a config with Debian's default PATH.
    const blob = await writeGzipLayer([bytes], join(dir, 'blobs', 'sha256', 'rootfs.tmp'));
    await rename(join(dir, 'blobs', 'sha256', 'rootfs.tmp'), blobPath(dir, blob.digest));
    const config: ImageConfig = {
      architecture: o.architecture ?? 'amd64',
      os: 'linux',
      created: '1980-01-01T00:00:00Z',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: [blob.diffId] },
      history: [{ created: '1980-01-01T00:00:00Z', created_by: `nx-pex: root filesystem tarball`, comment: 'imported by nx-pex' }],
    };
    const configDesc = await writeBlob(dir, jsonBytes(config), MEDIA.ociConfig);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: configDesc,
      layers: [{ mediaType: MEDIA.ociLayerGzip, digest: blob.digest, size: blob.size }],
    };
    const m = await writeBlob(dir, jsonBytes(manifest), MEDIA.ociManifest);
    await writeLayoutIndex(dir, [{ ...m, platform: platformOf(config) }]);
  });
  await memo(o.store, identity, key);
  return layer.path;
}

async function gunzip(data: Buffer): Promise<Buffer> {
  return promisify(zlibGunzip)(data);
}

/** A layout in the store holding `reference` as the registry has it (every platform of an index). */
async function layoutFromRegistry(reference: string, o: BaseOptions): Promise<string> {
  const ref = parseReference(reference)!;
  const memoName = cacheKey('ref', formatReference(ref));
  let digest = ref.digest;
  const client = new RegistryClient(ref.registry, { env: o.env, insecure: o.insecure });
  let top: { bytes: Buffer; mediaType: string; digest: string } | undefined;
  if (!digest) {
    if (o.offline) {
      digest = await memo(o.store, memoName);
      if (!digest) throw new ImageError(`The base image ${reference} is not in the store and this build is offline: build once online, or pin it by digest.`);
    } else {
      top = await client.getManifest(ref.repository, ref.tag ?? 'latest');
      digest = top.digest;
      await memo(o.store, memoName, digest);
    }
  }
  const key = cacheKey('base-registry', digest);
  const layer = await ensureLayer(o.store, key, async (dir) => {
    if (o.offline) throw new ImageError(`The base image ${reference} is not in the store and this build is offline.`);
    o.log?.(`pulling ${reference} (${digest})`);
    top ??= await client.getManifest(ref.repository, digest!);
    const put = async (m: { bytes: Buffer; mediaType: string }) => writeBlob(dir, m.bytes, m.mediaType);
    const pullImage = async (m: { bytes: Buffer }) => {
      const manifest = JSON.parse(m.bytes.toString('utf8')) as ImageManifest;
      await client.getBlob(ref.repository, manifest.config.digest, blobPath(dir, manifest.config.digest));
      for (const l of manifest.layers) {
        if (l.mediaType === MEDIA.dockerForeignLayer) continue;
        await client.getBlob(ref.repository, l.digest, blobPath(dir, l.digest));
      }
    };
    const topDesc = await put(top);
    const parsed = JSON.parse(top.bytes.toString('utf8')) as { manifests?: Descriptor[] };
    if (parsed.manifests) {
      for (const d of parsed.manifests) {
        if (d.platform?.os === 'unknown' || d.platform?.architecture === 'unknown') continue; // attestations
        if (d.platform && d.platform.os !== 'linux') continue;
        const m = await client.getManifest(ref.repository, d.digest);
        await put(m);
        await pullImage(m);
      }
    } else {
      await pullImage(top);
    }
    await writeLayoutIndex(dir, [{ ...topDesc, annotations: { 'org.opencontainers.image.ref.name': reference } }]);
  });
  return layer.path;
}

/** Reads the base image `spec` (see the module comment), pulling or importing it into the store when needed. */
export async function loadBaseImage(spec: string, o: BaseOptions): Promise<BaseImage> {
  // A path: `./x`, `/x`, or an existing file or directory.
  const colon = spec.lastIndexOf(':');
  const candidates: Array<{ path: string; ref?: string }> = [{ path: resolve(o.cwd, spec) }];
  if (colon > 0) candidates.push({ path: resolve(o.cwd, spec.slice(0, colon)), ref: spec.slice(colon + 1) });
  for (const c of candidates) {
    const st = await stat(c.path).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) {
      if (!(await isLayout(c.path))) throw new ImageError(`imageBase ${spec}: ${c.path} is a directory but not an OCI image layout (it has no oci-layout file).`);
      return { spec, images: await readLayoutImages(c.path, c.ref) };
    }
    if (st.isFile() && c.ref === undefined) return { spec, images: await readLayoutImages(await layoutFromTarball(c.path, o)) };
  }
  if (/^[./~]/.test(spec) || spec.includes('\\')) throw new ImageError(`imageBase ${spec}: no such file or directory (from ${o.cwd}).`);
  const ref = parseReference(spec);
  if (!ref) {
    throw new ImageError(
      `imageBase "${spec}" is neither an existing OCI layout directory or image tarball nor an image reference (e.g. python:3.12-slim, registry.example.com/team/python:3.12@sha256:<digest>).`,
    );
  }
  const dir = await layoutFromRegistry(spec, o);
  return { spec, reference: formatReference(ref), images: await readLayoutImages(dir) };
}

/** The image of `base` for `platform` (the only image when the base has one). */
export function basePlatformImage(base: BaseImage, platform: Platform): LayoutImage {
  const fits = base.images.filter((i) => i.config.os === platform.os && i.config.architecture === platform.architecture && (!platform.variant || i.config.variant === platform.variant));
  if (fits.length > 0) return fits[0]!;
  const have = base.images.map((i) => `${i.config.os}/${i.config.architecture}${i.config.variant ? `/${i.config.variant}` : ''}`).join(', ');
  throw new ImageError(`The base image ${base.spec} has no ${platform.os}/${platform.architecture} image (it has ${have || 'none'}); choose a base for that platform.`);
}

interface TreeNode {
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  linkname: string;
}

/** Paths of the base's merged root filesystem (whiteouts applied), without their contents. */
async function mergedTree(image: LayoutImage): Promise<Map<string, TreeNode>> {
  const tree = new Map<string, TreeNode>();
  for (const l of image.manifest.layers) {
    if (l.mediaType === MEDIA.dockerForeignLayer) continue;
    const bytes = await readLayerTar(blobPath(image.dir, l.digest));
    for (const e of readTar(bytes, `layer ${l.digest} of the base image`)) {
      const base = posix.basename(e.path);
      const dir = posix.dirname(e.path);
      if (base === '.wh..wh..opq') {
        for (const p of [...tree.keys()]) if (p.startsWith(`${dir}/`)) tree.delete(p);
        continue;
      }
      if (base.startsWith('.wh.')) {
        const gone = posix.join(dir, base.slice(4));
        tree.delete(gone);
        for (const p of [...tree.keys()]) if (p.startsWith(`${gone}/`)) tree.delete(p);
        continue;
      }
      tree.set(e.path, { type: e.type, linkname: e.linkname });
    }
  }
  return tree;
}

/** `path` with symlinks in the tree followed (absolute or relative targets); undefined for a loop or a dangling link. */
function resolveIn(tree: Map<string, TreeNode>, path: string): string | undefined {
  let parts = path.split('/').filter((p) => p !== '');
  for (let hops = 0; hops < 40; hops++) {
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join('/');
      const node = tree.get(prefix);
      if (!node) return undefined;
      if (node.type === 'symlink') {
        const target = node.linkname.startsWith('/') ? node.linkname : posix.join('/', ...parts.slice(0, i), node.linkname);
        parts = [...posix.normalize(target).split('/').filter((p) => p !== ''), ...parts.slice(i + 1)];
        changed = true;
        break;
      }
    }
    if (!changed) return `/${parts.join('/')}`;
  }
  return undefined;
}

/**
 * The interpreter of the base image: `python3` in a directory of its PATH, its real path and
 * X.Y (from the file name `pythonX.Y` or its `lib/pythonX.Y` directory). Kept in the store by
 * the image's config digest.
 */
export async function findBasePython(image: LayoutImage, store: WheelStore): Promise<BasePython> {
  const memoName = cacheKey('python', image.manifest.config.digest);
  const known = await memo(store, memoName);
  if (known) return JSON.parse(known) as BasePython;
  const tree = await mergedTree(image);
  const pathVar = (image.config.config?.Env ?? []).find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of pathVar.split(':').filter((d) => d.startsWith('/'))) {
    const real = resolveIn(tree, posix.join(dir, 'python3'));
    if (!real) continue;
    const node = tree.get(real.slice(1));
    if (!node || (node.type !== 'file' && node.type !== 'hardlink')) continue;
    let version = /python(3\.\d+)$/.exec(real)?.[1];
    if (!version) {
      const prefix = posix.dirname(posix.dirname(real)).slice(1);
      const libs = [...tree.keys()].map((p) => new RegExp(`^${prefix ? `${prefix}/` : ''}lib/python(3\\.\\d+)$`).exec(p)?.[1]).filter((v): v is string => v !== undefined);
      if (libs.length === 1) version = libs[0];
    }
    if (!version) continue;
    const found: BasePython = { path: real, version };
    await memo(store, memoName, JSON.stringify(found));
    return found;
  }
  throw new ImageError(
    `The base image has no python3 on its PATH (${pathVar}), so there is no interpreter for the venv; use a base image with CPython (e.g. python:3.12-slim, or Debian with python3).`,
  );
}

export { sha256 };
