/**
 * The `image` output of a project build: `dist/<project root>/image/`, an OCI image layout with
 * one image per script (an image index per script with several target platforms), written by
 * packages/image from the base image, the closure's wheels in the store and the sources the PEX
 * writer gets. Also the removal of an earlier `image/` when a build no longer asks for one.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { canonicalizeName, parseWheelFilename, selectBestWheel, UserError, type TargetPlatform } from '@nx-pex/pep';
import { buildImage, loadBaseImage, type ImagePlatformInput, type Platform } from '@nx-pex/image';
import { moveIntoPlace, sweepStaleTemps, tempPathFor, untrack, type PexDependency, type PexSource } from '@nx-pex/pex';
import type { WheelStore } from '@nx-pex/store';
import type { LayeredOptions } from './options';
import { outputTmpDir } from './outputs';

/** The label (and manifest annotation) holding the sha256 of the project's lock file. */
export const LOCK_LABEL = 'dev.nx-pex.lock.sha256';

export interface ProjectImageOptions {
  project: string;
  projectDir: string;
  /** `dist/<project root>`: `image/` goes here. */
  outputDir: string;
  options: LayeredOptions;
  jobs: ReadonlyArray<{ name: string; entryPoint?: string; script?: string }>;
  targets: readonly TargetPlatform[];
  dependencies: readonly PexDependency[];
  sources: readonly PexSource[];
  lockFile: string;
  store: WheelStore;
  env: NodeJS.ProcessEnv;
  offline?: boolean;
  log: (line: string) => void;
}

/** The OCI platform of a target, from its best platform tag. */
export function ociPlatform(target: TargetPlatform, project: string): Platform {
  const tag = target.supportedTags[0]?.split('-')[2] ?? '';
  const arch = /(x86_64|amd64)$/.test(tag)
    ? 'amd64'
    : /(aarch64|arm64)$/.test(tag)
      ? 'arm64'
      : /(i686|i386)$/.test(tag)
        ? '386'
        : /ppc64le$/.test(tag)
          ? 'ppc64le'
          : /s390x$/.test(tag)
            ? 's390x'
            : /armv7l$/.test(tag)
              ? 'arm'
              : undefined;
  if (!/^(manylinux|musllinux|linux)/.test(tag) || arch === undefined) {
    throw new UserError(`${project}: image needs Linux targets, but ${target.id} is not one; build the image for a Linux platform (platforms option, e.g. manylinux2014_x86_64-cp-311-cp311).`);
  }
  return { os: 'linux', architecture: arch, ...(arch === 'arm' ? { variant: 'v7' } : {}) };
}

/** The wheels of the closure a target uses: the best one per distribution. */
function wheelsFor(target: TargetPlatform, dependencies: readonly PexDependency[]): PexDependency[] {
  const byName = new Map<string, PexDependency[]>();
  for (const d of dependencies) {
    const name = canonicalizeName(parseWheelFilename(d.filename).name);
    byName.set(name, [...(byName.get(name) ?? []), d]);
  }
  const out: PexDependency[] = [];
  for (const files of byName.values()) {
    const best = selectBestWheel(files, target);
    if (best) out.push(best);
  }
  return out;
}

/** nx-pex's `image/` (absent, empty, or an OCI layout) may be replaced; anything else is the user's. */
async function isImageDir(dir: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return true;
  if (!st.isDirectory()) return false;
  const names = await readdir(dir);
  return names.length === 0 || names.includes('oci-layout');
}

async function assertImageDir(dir: string): Promise<void> {
  if (!(await isImageDir(dir))) {
    throw new UserError(`Refusing to replace ${dir}: it exists and is not an OCI image layout nx-pex wrote. Move it, or build elsewhere.`);
  }
}

/**
 * Writes `<outputDir>/image` when the image option is on, and removes an earlier one when it is
 * off; one call from the project build.
 */
export async function writeProjectImage(o: ProjectImageOptions): Promise<void> {
  const dest = join(o.outputDir, 'image');
  if (o.options.image !== true) {
    if ((await lstat(join(dest, 'oci-layout')).catch(() => undefined)) && (await isImageDir(dest))) await rm(dest, { recursive: true, force: true });
    return;
  }
  const scripts = o.jobs.map((j) => {
    if (j.entryPoint === undefined) {
      throw new UserError(
        `${o.project}: image runs a console script or an entry point, but "${j.script}" is a file in a distribution's .data/scripts; use a console script or an entry point (-e / entryPoint).`,
      );
    }
    return { name: j.name, entryPoint: j.entryPoint };
  });
  const started = performance.now();
  const target = o.targets[0]!;
  const [major, minor] = target.pythonVersion.split('.');
  let spec = o.options.imageBase ?? `python:${major}.${minor}-slim`;
  if (/^\.{1,2}\//.test(spec)) spec = resolve(o.projectDir, spec);
  const base = await loadBaseImage(spec, {
    store: o.store,
    env: o.env,
    cwd: o.projectDir,
    architecture: ociPlatform(target, o.project).architecture,
    offline: o.offline,
    log: o.log,
  });
  const platforms: ImagePlatformInput[] = [];
  const seen = new Set<string>();
  for (const t of o.targets) {
    const platform = ociPlatform(t, o.project);
    const key = `${platform.os}/${platform.architecture}`;
    if (seen.has(key)) {
      throw new UserError(`${o.project}: two targets (${o.targets.map((x) => x.id).join(', ')}) are both ${key}; an image has one manifest per platform, so give one target per platform.`);
    }
    seen.add(key);
    platforms.push({ platform, pythonVersion: t.pythonVersion, wheels: wheelsFor(t, o.dependencies) });
  }
  const labels: Record<string, string> = {
    [LOCK_LABEL]: createHash('sha256').update(await readFile(o.lockFile)).digest('hex'),
    ...(o.options.imageRevision ? { 'org.opencontainers.image.revision': o.options.imageRevision } : {}),
  };
  const tmpRoot = await outputTmpDir(o.store.root, o.outputDir);
  await mkdir(tmpRoot, { recursive: true });
  await sweepStaleTemps(tmpRoot);
  const tmp = tempPathFor(tmpRoot, dest);
  try {
    await mkdir(tmp, { mode: 0o755 });
    const result = await buildImage({
      store: o.store,
      dir: tmp,
      base,
      platforms,
      sources: o.sources.map((s) => ({ path: s.path, absPath: isAbsolute(s.absPath) ? s.absPath : resolve(s.absPath) })),
      scripts,
      project: o.project,
      env: o.options.imageEnv,
      user: o.options.imageUser,
      ports: o.options.imagePorts,
      labels,
      log: o.log,
    });
    await moveIntoPlace(tmp, dest, assertImageDir);
    const ms = Math.round(performance.now() - started);
    for (const img of result.images) o.log(`${o.project}: wrote image ${img.script} ${img.digest} to ${dest} (${ms} ms)`);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  } finally {
    untrack(tmp);
  }
}
