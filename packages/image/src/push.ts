/**
 * Sending an image layout to a registry: every blob checked with HEAD first (a blob the
 * registry has is never sent again), mounted from another repository of the same registry when
 * one is known to hold it, else uploaded (one PUT, or PATCH chunks for large blobs); then the
 * platform manifests by digest and the tagged manifest or index. Also a `docker load` archive.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { blobPath, MEDIA, type Descriptor } from './blobs';
import { ImageError } from './errors';
import { readJsonBlob, REF_NAME, jsonBytes, type ImageIndex, type ImageManifest } from './layout';
import { RegistryClient, type ImageReference, type RegistryOptions } from './registry';
import { layerEntries, tarChunks, type TarEntry } from './tar';
import { stat } from 'node:fs/promises';

export interface PushOptions extends RegistryOptions {
  /** Repositories of the same registry that may hold blobs of this image (cross-repository mounts). */
  mountFrom?: string[];
  /** Repositories of this registry known to hold `digest` (e.g. from earlier pushes), tried for a mount. */
  knownHolders?: (digest: string) => Promise<string[]>;
  /** Called for each blob the repository holds after the push (present, mounted or uploaded). */
  onHeld?: (digest: string) => Promise<void>;
  chunkSize?: number;
  log?: (line: string) => void;
}

export interface PushResult {
  reference: string;
  digest: string;
  /** Blobs sent, with their sizes. */
  uploaded: Array<{ digest: string; size: number }>;
  mounted: string[];
  /** Blobs the registry had already. */
  present: string[];
  /** Request body bytes sent (blobs and manifests). */
  bytesSent: number;
}

async function readRange(path: string, start: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, start + got);
      if (bytesRead === 0) throw new ImageError(`${path} is shorter than its descriptor says.`);
      got += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** The descriptor index.json names `name` by (its `org.opencontainers.image.ref.name`), or its only entry. */
export async function layoutEntry(dir: string, name?: string): Promise<Descriptor> {
  const index = JSON.parse(await readFile(`${dir}/index.json`, 'utf8').catch(() => {
    throw new ImageError(`${dir} is not an image layout (no index.json): build the project with the image option first.`);
  })) as ImageIndex;
  const entries = index.manifests ?? [];
  if (name === undefined) {
    if (entries.length !== 1) {
      throw new ImageError(`${dir} holds ${entries.length} images (${entries.map((e) => e.annotations?.[REF_NAME] ?? e.digest).join(', ')}); name the script to push.`);
    }
    return entries[0]!;
  }
  const found = entries.find((e) => e.annotations?.[REF_NAME] === name);
  if (!found) throw new ImageError(`${dir} has no image for "${name}" (it has ${entries.map((e) => e.annotations?.[REF_NAME] ?? e.digest).join(', ')}).`);
  return found;
}

/** Pushes the image `entry` of the layout at `dir` to `dest` and every tag in `tags`. */
export async function pushImage(dir: string, entry: Descriptor, dest: ImageReference, tags: string[], o: PushOptions = {}): Promise<PushResult> {
  const client = new RegistryClient(dest.registry, o);
  const repo = dest.repository;
  const result: PushResult = { reference: '', digest: entry.digest, uploaded: [], mounted: [], present: [], bytesSent: 0 };
  const done = new Set<string>();
  const pushBlob = async (d: Descriptor) => {
    if (done.has(d.digest)) return;
    done.add(d.digest);
    if (await client.hasBlob(repo, d.digest)) {
      result.present.push(d.digest);
      await o.onHeld?.(d.digest);
      return;
    }
    const holders = [...new Set([...(o.mountFrom ?? []), ...((await o.knownHolders?.(d.digest)) ?? [])])];
    for (const from of holders) {
      if (from === repo) continue;
      if (await client.mountBlob(repo, d.digest, from)) {
        result.mounted.push(d.digest);
        await o.onHeld?.(d.digest);
        o.log?.(`mounted ${d.digest.slice(7, 19)} from ${from}`);
        return;
      }
    }
    const path = blobPath(dir, d.digest);
    const st = await stat(path).catch(() => undefined);
    if (!st || st.size !== d.size) throw new ImageError(`The blob ${d.digest} is missing from ${dir} or has the wrong size; build the image again.`);
    await client.uploadBlob(repo, d.digest, d.size, (s, l) => readRange(path, s, l), o.chunkSize);
    result.uploaded.push({ digest: d.digest, size: d.size });
    await o.onHeld?.(d.digest);
    o.log?.(`uploaded ${d.digest.slice(7, 19)} (${d.size} bytes)`);
  };
  const pushManifest = async (d: Descriptor, ref: string) => {
    const bytes = await readFile(blobPath(dir, d.digest));
    await client.putManifest(repo, ref, bytes, d.mediaType);
  };
  const pushOne = async (d: Descriptor) => {
    const m = await readJsonBlob<ImageManifest>(dir, d, `The image layout ${dir}`);
    for (const l of m.layers) await pushBlob(l);
    await pushBlob(m.config);
  };
  let children: Descriptor[] = [];
  if (entry.mediaType === MEDIA.ociIndex || entry.mediaType === MEDIA.dockerList) {
    const index = await readJsonBlob<ImageIndex>(dir, entry, `The image layout ${dir}`);
    children = index.manifests;
    for (const c of children) {
      await pushOne(c);
      await pushManifest(c, c.digest);
    }
  } else {
    await pushOne(entry);
  }
  const refs = tags.length > 0 ? tags : [entry.digest];
  for (const t of refs) await pushManifest(entry, t);
  result.reference = `${dest.registry}/${repo}${tags.length > 0 ? `:${tags[0]}` : ''}@${entry.digest}`;
  result.bytesSent = client.sent;
  return result;
}

/**
 * A tarball `docker load` reads (one platform): the OCI layout's blobs plus Docker's
 * `manifest.json` (Config, RepoTags, Layers), as `docker save` writes since Docker 25.
 */
export async function writeDockerArchive(dir: string, entry: Descriptor, repoTags: string[], dest: string, platform?: { architecture: string; os: string }): Promise<void> {
  let manifestDesc = entry;
  if (entry.mediaType === MEDIA.ociIndex) {
    const index = await readJsonBlob<ImageIndex>(dir, entry, `The image layout ${dir}`);
    const want = platform ?? { os: 'linux', architecture: process.arch === 'arm64' ? 'arm64' : 'amd64' };
    const found = index.manifests.find((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture) ?? index.manifests[0];
    if (!found) throw new ImageError(`The image ${entry.digest} in ${dir} has no manifest.`);
    manifestDesc = found;
  }
  const manifest = await readJsonBlob<ImageManifest>(dir, manifestDesc, `The image layout ${dir}`);
  const blob = (d: string) => `blobs/sha256/${d.slice(7)}`;
  const entries: TarEntry[] = [];
  for (const d of [manifest.config, ...manifest.layers, manifestDesc]) {
    entries.push({ path: blob(d.digest), type: 'file', data: await readFile(blobPath(dir, d.digest)), mode: 0o644 });
  }
  const docker = [{ Config: blob(manifest.config.digest), RepoTags: repoTags, Layers: manifest.layers.map((l) => blob(l.digest)) }];
  entries.push({ path: 'manifest.json', type: 'file', data: jsonBytes(docker), mode: 0o644 });
  entries.push({ path: 'oci-layout', type: 'file', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'), mode: 0o644 });
  const annotations = repoTags[0] ? { 'io.containerd.image.name': repoTags[0], [REF_NAME]: repoTags[0].replace(/^.*:/, '') } : undefined;
  entries.push({ path: 'index.json', type: 'file', data: jsonBytes({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ ...manifestDesc, ...(annotations ? { annotations } : {}) }] }), mode: 0o644 });
  const tmp = `${dest}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    for (const c of tarChunks(layerEntries(entries))) await fh.write(c);
    await fh.close();
    await rename(tmp, dest);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}
