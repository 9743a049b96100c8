/**
 * An image layout from a base image, the dependency layer and the sources layer: a config and
 * manifest per (script, platform), one `index.json` entry per script (an image index when there
 * are several platforms), every blob under `blobs/sha256/`. Nothing depends on the time, the
 * machine or the checkout path: the same inputs give the same digests.
 */
import { join } from 'node:path';
import { linkFromStore, type WheelStore } from '@nx-pex/store';
import { blobPath, MEDIA, writeBlob, writeTarLayer, type Descriptor, type LayerBlob, type Platform } from './blobs';
import { basePlatformImage, findBasePython, type BaseImage, type BasePython } from './base';
import { ImageError } from './errors';
import { jsonBytes, REF_NAME, writeLayoutIndex, type ImageConfig, type ImageManifest, type LayoutImage } from './layout';
import { depsLayer, sourcesLayerEntries, DEFAULT_VENV, type ImageScript, type LayerWheel, type SourceFile } from './venv';
import { rename, stat } from 'node:fs/promises';

/** The `created` time of every config and history entry nx-pex writes. */
export const IMAGE_CREATED = '1980-01-01T00:00:00Z';

export interface ImagePlatformInput {
  platform: Platform;
  /** The closure's wheels for this platform. */
  wheels: LayerWheel[];
  /** The target's Python version (`3.11.7`), checked against the base's interpreter. */
  pythonVersion?: string;
}

export interface BuildImageOptions {
  store: WheelStore;
  /** An empty directory the layout is written into. */
  dir: string;
  base: BaseImage;
  platforms: ImagePlatformInput[];
  sources: SourceFile[];
  scripts: ImageScript[];
  /** The project's name, for history and messages. */
  project: string;
  venv?: string;
  /** Variables over the base's (PATH, VIRTUAL_ENV and PYTHONDONTWRITEBYTECODE=1 are set first; these win). */
  env?: Record<string, string>;
  user?: string;
  /** `8000` or `8000/tcp`, `53/udp`. */
  ports?: string[];
  workingDir?: string;
  /** Labels and manifest annotations (the lock's hash, the source revision, ...). */
  labels?: Record<string, string>;
  log?: (line: string) => void;
}

export interface BuiltImage {
  script: string;
  /** The digest index.json names for the script: a manifest, or an index with several platforms. */
  digest: string;
  mediaType: string;
  manifests: Array<{ platform: Platform; digest: string; depsLayer: string; sourcesLayer: string }>;
}

export interface BuildImageResult {
  images: BuiltImage[];
  depsReused: boolean[];
  /** Bytes of the sources layer of each platform. */
  sourcesBytes: number;
}

function portKey(p: string): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(p.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new ImageError(`imagePorts: "${p}" is not a port (write 8000, 8000/tcp or 53/udp).`);
  return `${Number(m[1])}/${m[2] ?? 'tcp'}`;
}

function envList(base: string[] | undefined, venv: string, extra: Record<string, string>): string[] {
  const map = new Map<string, string>();
  for (const e of base ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) map.set(e.slice(0, eq), e.slice(eq + 1));
  }
  const path = map.get('PATH') ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  map.set('PATH', `${venv}/bin:${path}`);
  map.set('VIRTUAL_ENV', venv);
  map.set('PYTHONDONTWRITEBYTECODE', '1');
  for (const [k, v] of Object.entries(extra)) map.set(k, v);
  return [...map].map(([k, v]) => `${k}=${v}`);
}

async function linkBlob(fromDir: string, toDir: string, digest: string): Promise<void> {
  const dest = blobPath(toDir, digest);
  if (await stat(dest).catch(() => undefined)) return;
  await linkFromStore(blobPath(fromDir, digest), dest);
}

/**
 * The config of one script's image on one platform: the base's settings under the options', the
 * script as entry point, and the base's history and layers followed by the two of nx-pex.
 */
function scriptConfig(
  o: BuildImageOptions,
  image: LayoutImage,
  x: { script: string; venv: string; ports: Record<string, object>; diffIds: [deps: string, sources: string]; wheels: number },
): ImageConfig {
  const bc = image.config.config ?? {};
  const labels = { ...(bc.Labels ?? {}), ...(o.labels ?? {}) };
  return {
    created: IMAGE_CREATED,
    architecture: image.config.architecture,
    os: image.config.os,
    ...(image.config.variant ? { variant: image.config.variant } : {}),
    config: {
      ...(o.user ?? bc.User ? { User: o.user ?? bc.User } : {}),
      ...(Object.keys(x.ports).length > 0 || bc.ExposedPorts ? { ExposedPorts: { ...(bc.ExposedPorts ?? {}), ...x.ports } } : {}),
      Env: envList(bc.Env, x.venv, o.env ?? {}),
      Entrypoint: [`${x.venv}/bin/${x.script}`],
      WorkingDir: o.workingDir ?? (bc.WorkingDir || '/'),
      ...(Object.keys(labels).length > 0 ? { Labels: labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: [...image.config.rootfs.diff_ids, ...x.diffIds] },
    history: [
      ...(image.config.history ?? []),
      { created: IMAGE_CREATED, created_by: `nx-pex: venv ${x.venv} with the dependencies (${x.wheels} wheels)`, comment: 'nx-pex dependency layer' },
      { created: IMAGE_CREATED, created_by: `nx-pex: ${o.project}'s sources and scripts`, comment: 'nx-pex sources layer' },
    ],
  };
}

/** Writes the image layout into `o.dir` (empty, or missing); see the module comment. */
export async function buildImage(o: BuildImageOptions): Promise<BuildImageResult> {
  const venv = (o.venv ?? DEFAULT_VENV).replace(/\/+$/, '');
  if (!venv.startsWith('/')) throw new ImageError(`The venv path ${venv} must be absolute.`);
  const ports = Object.fromEntries((o.ports ?? []).map((p) => [portKey(p), {}]));
  const perScript = new Map<string, BuiltImage['manifests']>();
  const perScriptDesc = new Map<string, Descriptor[]>();
  const depsReused: boolean[] = [];
  let sourcesBytes = 0;
  await writeLayoutIndex(o.dir, []);
  for (const p of o.platforms) {
    const image: LayoutImage = basePlatformImage(o.base, p.platform);
    const python: BasePython = await findBasePython(image, o.store);
    if (p.pythonVersion && !`${p.pythonVersion}.`.startsWith(`${python.version}.`)) {
      throw new ImageError(
        `${o.project}: the base image ${o.base.spec} has Python ${python.version} (${python.path}) but the build targets Python ${p.pythonVersion}; ` +
          `build for ${python.version} (python or platforms option) or use a base image with Python ${p.pythonVersion.split('.').slice(0, 2).join('.')}.`,
      );
    }
    const deps = await depsLayer(o.store, p.wheels, venv, python);
    depsReused.push(deps.reused);
    o.log?.(`${o.project}: image dependency layer ${deps.digest.slice(7, 19)} (${p.wheels.length} wheels, ${(deps.size / 1e6).toFixed(1)} MB) ${deps.reused ? 'reused from' : 'written to'} the store`);
    const srcEntries = await sourcesLayerEntries(o.sources, o.scripts, venv, python);
    const tmp = join(o.dir, 'blobs', 'sha256', `sources-${process.pid}.tmp`);
    const src = await writeTarLayer(srcEntries, tmp);
    await rename(tmp, blobPath(o.dir, src.digest));
    sourcesBytes += src.size;
    for (const l of image.manifest.layers) await linkBlob(image.dir, o.dir, l.digest);
    const depsDest = blobPath(o.dir, deps.digest);
    if (!(await stat(depsDest).catch(() => undefined))) await linkFromStore(deps.path, depsDest);

    const baseLayers: Descriptor[] = image.manifest.layers
      .filter((l) => l.mediaType !== MEDIA.dockerForeignLayer)
      .map((l) => ({ mediaType: l.mediaType === MEDIA.dockerLayerGzip ? MEDIA.ociLayerGzip : l.mediaType, digest: l.digest, size: l.size }));
    const ours = (b: LayerBlob): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
    for (const script of o.scripts) {
      const config = scriptConfig(o, image, { script: script.name, venv, ports, diffIds: [deps.diffId, src.diffId], wheels: p.wheels.length });
      const configDesc = await writeBlob(o.dir, jsonBytes(config), MEDIA.ociConfig);
      const annotations: Record<string, string> = {
        'org.opencontainers.image.base.digest': image.descriptor.digest,
        ...(o.base.reference ? { 'org.opencontainers.image.base.name': o.base.reference } : {}),
        ...(o.labels ?? {}),
      };
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: configDesc,
        layers: [...baseLayers, ours(deps), ours(src)],
        annotations,
      };
      const m = await writeBlob(o.dir, jsonBytes(manifest), MEDIA.ociManifest);
      const platform: Platform = { architecture: image.config.architecture, os: image.config.os, ...(image.config.variant ? { variant: image.config.variant } : {}) };
      const list = perScript.get(script.name) ?? [];
      list.push({ platform, digest: m.digest, depsLayer: deps.digest, sourcesLayer: src.digest });
      perScript.set(script.name, list);
      const descs = perScriptDesc.get(script.name) ?? [];
      descs.push({ ...m, platform });
      perScriptDesc.set(script.name, descs);
    }
  }
  const top: Descriptor[] = [];
  const images: BuiltImage[] = [];
  for (const script of o.scripts) {
    const descs = perScriptDesc.get(script.name)!;
    let d: Descriptor;
    if (descs.length === 1) d = { ...descs[0]! };
    else d = await writeBlob(o.dir, jsonBytes({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: descs }), MEDIA.ociIndex);
    top.push({ ...d, annotations: { [REF_NAME]: script.name } });
    images.push({ script: script.name, digest: d.digest, mediaType: d.mediaType, manifests: perScript.get(script.name)! });
  }
  await writeLayoutIndex(o.dir, top);
  return { images, depsReused, sourcesBytes };
}
