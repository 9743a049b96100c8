/**
 * OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`): read (a base image, a built
 * image to push) and written (the build's `image/` output).
 */
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { blobPath, MEDIA, writeBlob, type Descriptor, type Platform } from './blobs';
import { ImageError } from './errors';

export const OCI_LAYOUT = '{"imageLayoutVersion":"1.0.0"}';
export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The JSON of an image config, with the fields nx-pex reads or writes. */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    [key: string]: unknown;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean; author?: string }>;
  [key: string]: unknown;
}

/** One image of a layout: its manifest (with its own descriptor) and config. */
export interface LayoutImage {
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  /** The layout the blobs lie in. */
  dir: string;
}

/** Canonical JSON bytes of a manifest, index or config: keys in the order given, no spaces. */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export async function isLayout(dir: string): Promise<boolean> {
  return stat(join(dir, 'oci-layout')).then(
    (s) => s.isFile(),
    () => false,
  );
}

export async function readJsonBlob<T>(dir: string, d: Descriptor, what: string): Promise<T> {
  const path = blobPath(dir, d.digest);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ImageError(`${what}: the blob ${d.digest} is missing from ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ImageError(`${what}: the blob ${d.digest} in ${dir} is not JSON.`);
  }
}

function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;
}

/**
 * Every image of the layout at `dir`, nested indexes expanded, each with the platform its
 * config names; `ref` keeps only the entries of index.json with that `org.opencontainers.image.ref.name`.
 */
export async function readLayoutImages(dir: string, ref?: string): Promise<LayoutImage[]> {
  const what = `The OCI image layout ${dir}`;
  let index: ImageIndex;
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
  } catch (e) {
    throw new ImageError(`${what} has no readable index.json (${(e as Error).message}).`);
  }
  let top = index.manifests ?? [];
  if (ref !== undefined) {
    top = top.filter((m) => m.annotations?.[REF_NAME] === ref);
    if (top.length === 0) throw new ImageError(`${what} has no image named "${ref}" in its index.json.`);
  }
  const out: LayoutImage[] = [];
  const visit = async (d: Descriptor, depth: number): Promise<void> => {
    if (depth > 4) throw new ImageError(`${what} nests image indexes too deeply.`);
    const parsed = await readJsonBlob<ImageManifest & ImageIndex>(dir, d, what);
    if (isIndexType(d.mediaType) || isIndexType(parsed.mediaType) || Array.isArray(parsed.manifests)) {
      for (const m of parsed.manifests) await visit(m, depth + 1);
      return;
    }
    if (!parsed.config) return;
    const config = await readJsonBlob<ImageConfig>(dir, parsed.config, what);
    out.push({ descriptor: d, manifest: parsed, config, dir });
  };
  for (const d of top) await visit(d, 0);
  return out;
}

export function platformOf(config: ImageConfig): Platform {
  return { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) };
}

/** Writes `oci-layout` and `index.json` (the blobs are written beside, by writeBlob and the layer writers). */
export async function writeLayoutIndex(dir: string, manifests: Descriptor[], annotations?: Record<string, string>): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), OCI_LAYOUT, { mode: 0o644 });
  const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests, ...(annotations ? { annotations } : {}) };
  await writeFile(join(dir, 'index.json'), jsonBytes(index), { mode: 0o644 });
}

export { writeBlob };
