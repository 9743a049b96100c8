/**
 * The `layers` and `docker` outputs of a project build: the dependencies layer built once per
 * key into the store and linked into `dist/`, a sources layer per script, and a Docker build
 * context after pex's container recipe.
 */
import { link, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keepOnInterrupt, removeOnInterrupt, tempBeside } from '@nx-pex/fs';
import { UserError, type TargetPlatform } from '@nx-pex/pep';
import {
  PexError,
  depsLayerKey,
  depsLayerOptions,
  dockerfile,
  dockerignore,
  isImageReference,
  isReplaceableOutput,
  moveIntoPlace,
  sourcesLayerOptions,
  sweepStaleTemps,
  tempPathFor,
  untrack,
  writePex,
  type PexOptions,
} from '@nx-pex/pex';
import { ensureLayer, linkFromStore, renewLayerIdentity, type EnsuredLayer, type LinkResult, type WheelStore } from '@nx-pex/store';
import { outputTmpDir, shownPath } from './outputs';

/** The name of the dependencies layer in `layers/` and in the Docker context. */
export const DEPS_LAYER = 'deps.pex';

export interface LayerJob {
  /** Output name without `.pex`. */
  name: string;
  entryPoint?: string;
  script?: string;
}

export interface ProjectLayersOptions {
  /** The project's name, for messages. */
  project: string;
  /** `dist/<project root>`: `layers/` and `docker/` go here. */
  outputDir: string;
  layers: boolean;
  docker: boolean;
  dockerBaseImage?: string;
  /** What the project's full PEX files are written from (entry point and script aside). */
  pex: PexOptions;
  /** The dependencies layer's requirements: every distribution of the closure, pinned. */
  closureRequirements: string[];
  jobs: LayerJob[];
  target: TargetPlatform;
  store: WheelStore;
  log: (line: string) => void;
}

export interface ProjectLayersResult {
  /** The dependencies layer's key in the store. */
  depsKey: string;
  /** The store had the dependencies layer already. */
  reused: boolean;
  layersDir?: string;
  dockerDir?: string;
}

/** The option names a user gave, for messages: target option, `[tool.nx-pex]` key, CLI flag. */
function optionName(o: { layers: boolean; docker: boolean }): string {
  return o.docker && !o.layers ? 'docker (--docker)' : 'layers (--layers)';
}

/** Refuses option values the layer outputs cannot be built with, naming the project and the option. */
export function checkLayerOptions(
  project: string,
  o: { layers?: boolean; docker?: boolean; dockerBaseImage?: string; includeTools?: boolean; fullPex?: boolean },
  jobs: readonly LayerJob[],
): void {
  const on = { layers: o.layers === true, docker: o.docker === true };
  if (o.fullPex === false && !on.layers && !on.docker) {
    throw new UserError(
      `${project}: fullPex: false (\`full-pex = false\` in [tool.nx-pex], --no-full-pex) leaves nothing to write without layers or docker; ` +
        'add layers = true (--layers) or docker = true (--docker), or drop full-pex = false.',
    );
  }
  if (o.dockerBaseImage !== undefined && !isImageReference(o.dockerBaseImage)) {
    throw new UserError(
      `${project}: dockerBaseImage (\`docker-base-image\` in [tool.nx-pex], --docker-base-image) is "${o.dockerBaseImage}", ` +
        'which is not a Docker image reference; write e.g. python:3.11-slim or registry.example.com:5000/team/python:3.11@sha256:<digest>.',
    );
  }
  if (!on.layers && !on.docker) return;
  if (o.includeTools === false) {
    throw new UserError(
      `${project}: ${optionName(on)} needs the pex tools in both layers (PEX_TOOLS=1 ... venv --scope=deps|srcs); drop includeTools: false.`,
    );
  }
  if (on.docker && jobs.length === 0) {
    throw new UserError(
      `${project}: docker (--docker) needs something for the image to run, but ${project} has no console script or entry point; ` +
        'add one to [project.scripts] (name = "module:function") or give an entry point (-e / entryPoint).',
    );
  }
  const deps = jobs.find((j) => `${j.name}.pex` === DEPS_LAYER);
  if (deps) {
    throw new UserError(
      `${project}: ${optionName(on)} writes the dependencies layer as ${DEPS_LAYER}, so a script cannot be named "${deps.name}"; ` +
        'rename the script or build without layers.',
    );
  }
}

/**
 * Whether `dir` may be replaced or removed as nx-pex's own `layers/` or `docker/`: it does not
 * exist, is empty, or holds a deps layer that is a PEX. A directory of the user's that happens to
 * have that name (next to an `-o` path) is never touched.
 */
async function isLayerDir(dir: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return true;
  if (!st.isDirectory()) return false;
  if ((await readdir(dir)).length === 0) return true;
  return (await lstat(join(dir, DEPS_LAYER)).catch(() => undefined)) !== undefined && (await isReplaceableOutput(join(dir, DEPS_LAYER)));
}

async function assertLayerDir(dest: string): Promise<void> {
  if (!(await isLayerDir(dest))) {
    throw new UserError(`Refusing to replace ${dest}: it exists and is not an nx-pex layers or Docker directory. Move it, or write the PEX elsewhere.`);
  }
}

/**
 * A scratch directory where Nx does not collect outputs (the store's `tmp/outputs`, or a sibling
 * of the output directory), filled by `fill`, then put at `dest`; removed on SIGINT/SIGTERM and
 * swept by a later build when this process is killed.
 */
async function writeDir(dest: string, tmpRoot: string, fill: (dir: string) => Promise<void>): Promise<void> {
  await assertLayerDir(dest);
  await mkdir(tmpRoot, { recursive: true });
  await sweepStaleTemps(tmpRoot);
  const tmp = tempPathFor(tmpRoot, dest);
  await mkdir(tmp, { mode: 0o755 });
  try {
    await fill(tmp);
    await moveIntoPlace(tmp, dest, assertLayerDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  } finally {
    untrack(tmp);
  }
}

function describeLink(r: LinkResult): string {
  if (r.copied === 0) return 'hard-linked';
  if (r.linked === 0) return 'copied (no hard links across these filesystems)';
  return `${r.linked} files hard-linked, ${r.copied} copied`;
}

/**
 * Writes `layers/` and/or `docker/` under `outputDir`. The dependencies layer comes from the
 * store (`layers/<key>`), written there first when no build has made it yet.
 */
export async function writeProjectLayers(o: ProjectLayersOptions): Promise<ProjectLayersResult> {
  // Both layers carry the tools, so that `venv --scope=deps` and `--scope=srcs` work on them.
  const base: PexOptions = { ...o.pex, includeTools: true };
  const srcs = await sourcesLayers(o, base);
  const { key, layer } = await storeDepsLayer(o, base);
  const out: LayerOutputs = { srcs, storeDeps: join(layer.path, DEPS_LAYER), tmpRoot: await outputTmpDir(o.store.root, o.outputDir) };
  const result: ProjectLayersResult = { depsKey: key, reused: layer.reused };
  if (o.layers) result.layersDir = await writeLayersDir(o, out);
  if (o.docker) result.dockerDir = await writeDockerContext(o, out, result.layersDir);
  // The hard links just made changed the store files' ctime, not their bytes (verified above).
  if (o.layers || o.docker) await renewLayerIdentity(o.store, key);
  return result;
}

/** What the `layers/` and `docker/` outputs are made of, and where they are put together. */
interface LayerOutputs {
  /** Each job's sources layer options, by output name. */
  srcs: Map<string, PexOptions>;
  /** The dependencies layer in the store. */
  storeDeps: string;
  /** Where the directories are filled before they are moved into place. */
  tmpRoot: string;
}

/** The sources layer options of each job; a script a sources layer cannot run is refused. */
async function sourcesLayers(o: ProjectLayersOptions, base: PexOptions): Promise<Map<string, PexOptions>> {
  const srcs = new Map<string, PexOptions>();
  for (const job of o.jobs) {
    try {
      srcs.set(job.name, await sourcesLayerOptions({ ...base, entryPoint: job.entryPoint, script: job.script }));
    } catch (e) {
      if (e instanceof PexError && job.script !== undefined) {
        throw new UserError(
          `${o.project}: ${optionName(o)} cannot run script "${job.script}": it is a file in a distribution's .data/scripts, which a sources layer ` +
            'without that distribution cannot run. Use a console script or an entry point (-e / entryPoint), or build without layers.',
        );
      }
      throw e;
    }
  }
  return srcs;
}

/** The dependencies layer in the store, under its key: reused, or written there now. */
async function storeDepsLayer(o: ProjectLayersOptions, base: PexOptions): Promise<{ key: string; layer: EnsuredLayer }> {
  const deps = depsLayerOptions({ ...base, requirements: o.closureRequirements });
  const key = depsLayerKey(deps, o.target.id);
  const layer = await ensureLayer(o.store, key, async (dir) => {
    await writePex(join(dir, DEPS_LAYER), deps);
    await linkWheelsToStore(join(dir, DEPS_LAYER), deps);
    await writeFile(
      join(dir, 'layer.json'),
      `${JSON.stringify({ kind: 'deps', target: o.target.id, pex: deps.runtime.version, layout: deps.layout ?? 'zipapp', wheels: deps.dependencies.map((d) => d.filename) }, null, 1)}\n`,
    );
  });
  const short = key.slice(0, 12);
  const wheels = deps.dependencies.length;
  if (layer.damaged !== undefined) o.log(`${o.project}: the store's deps layer ${short} was damaged (${layer.damaged}); built it again`);
  o.log(
    layer.reused
      ? `${o.project}: deps layer ${short} (${wheels} wheels) reused from the store (${layer.path})`
      : `${o.project}: deps layer ${short} (${wheels} wheels) written to the store (${layer.path})`,
  );
  return { key, layer };
}

/** `layers/`: the store's dependencies layer, linked, and a sources layer per job. */
async function writeLayersDir(o: ProjectLayersOptions, out: LayerOutputs): Promise<string> {
  const dest = join(o.outputDir, 'layers');
  let how: LinkResult | undefined;
  await writeDir(dest, out.tmpRoot, async (dir) => {
    how = await linkFromStore(out.storeDeps, join(dir, DEPS_LAYER));
    for (const [name, options] of out.srcs) {
      await writePex(join(dir, `${name}.pex`), options);
      // A packed sources layer boots from the same `.bootstrap` as the deps layer: link it too.
      await linkIfSame(join(out.storeDeps, '.bootstrap'), join(dir, `${name}.pex`, '.bootstrap'));
    }
  });
  o.log(`${o.project}: wrote ${shownPath(dest)} (${DEPS_LAYER} ${describeLink(how!)} from the store; ${[...out.srcs.keys()].map((n) => `${n}.pex`).join(', ')})`);
  return dest;
}

/** `docker/`: both layers and a Dockerfile after pex's container recipe; sources layers already in `layersDir` are linked from there. */
async function writeDockerContext(o: ProjectLayersOptions, out: LayerOutputs, layersDir: string | undefined): Promise<string> {
  const dest = join(o.outputDir, 'docker');
  const [major, minor] = o.target.pythonVersion.split('.');
  const baseImage = o.dockerBaseImage ?? `python:${major}.${minor}-slim`;
  await writeDir(dest, out.tmpRoot, async (dir) => {
    await linkFromStore(out.storeDeps, join(dir, DEPS_LAYER));
    for (const [name, options] of out.srcs) {
      const file = `${name}.pex`;
      // The sources layer just written to layers/ has the same bytes: link it rather than write it again.
      if (layersDir) await linkFromStore(join(layersDir, file), join(dir, file));
      else await writePex(join(dir, file), options);
    }
    const apps = [...out.srcs.keys()].map((name) => ({ name, srcsLayer: `${name}.pex` }));
    const text = dockerfile({
      baseImage,
      pythonVersion: `${major}.${minor}`,
      depsLayer: DEPS_LAYER,
      apps,
      header:
        `Built by nx-pex for ${o.project} (target ${o.target.id}), after pex's container recipe.\n` +
        `docker build -t ${o.project.toLowerCase()} <this directory>` +
        (apps.length > 1 ? `\nOne image per script: docker build --target <stage> (the last stage, ${apps[0]!.name}, is the default).` : ''),
    });
    await writeFile(join(dir, 'Dockerfile'), text, { mode: 0o644 });
    await writeFile(join(dir, '.dockerignore'), dockerignore([DEPS_LAYER, ...apps.map((a) => a.srcsLayer)]), { mode: 0o644 });
  });
  o.log(`${o.project}: wrote Docker context ${shownPath(dest)} (FROM ${baseImage})`);
  return dest;
}

/**
 * In a packed or loose PEX written with wheel files (not pre-installed), each `.deps/<wheel>` is
 * the store's wheel file byte for byte: it becomes a hard link to it (where the filesystem
 * allows), so that the bytes lie once in the store and the output writes none of them. The
 * store's files are read-only, so no output can change them. Returns the bytes linked.
 */
export async function linkWheelsToStore(pexDir: string, o: Pick<PexOptions, 'layout' | 'preInstallWheels' | 'dependencies'>): Promise<number> {
  if ((o.layout ?? 'zipapp') === 'zipapp' || o.preInstallWheels) return 0;
  let linked = 0;
  for (const d of o.dependencies) {
    if (!d.trusted) continue;
    const dest = join(pexDir, '.deps', d.filename);
    const [a, b] = await Promise.all([stat(dest).catch(() => undefined), stat(d.path).catch(() => undefined)]);
    if (!a || !b || !a.isFile() || a.size !== b.size) continue;
    if ((a.ino === b.ino && a.dev === b.dev) || (await replaceWithLink(d.path, dest))) linked += a.size;
  }
  return linked;
}

/** Puts a hard link to `src` in place of `dest` (atomically); false where the filesystem does not allow it. */
async function replaceWithLink(src: string, dest: string): Promise<boolean> {
  const tmp = tempBeside(dest);
  removeOnInterrupt(tmp);
  try {
    await link(src, tmp);
    await rename(tmp, dest);
    return true;
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
    return false;
  } finally {
    keepOnInterrupt(tmp);
  }
}

/** Makes `dest` a hard link to `src` when both are regular files of the same bytes; false when it is left as it is. */
async function linkIfSame(src: string, dest: string): Promise<boolean> {
  const [a, b] = await Promise.all([lstat(src).catch(() => undefined), lstat(dest).catch(() => undefined)]);
  if (!a?.isFile() || !b?.isFile() || a.size !== b.size) return false;
  if (a.ino === b.ino && a.dev === b.dev) return true;
  if (!(await readFile(src)).equals(await readFile(dest))) return false;
  return replaceWithLink(src, dest);
}

/** Removes `layers/` and `docker/` of an earlier build that asked for them, when this one does not. */
export async function removeStaleLayers(outputDir: string, o: { layers: boolean; docker: boolean }): Promise<void> {
  for (const [on, name] of [[o.layers, 'layers'], [o.docker, 'docker']] as const) {
    const dir = join(outputDir, name);
    if (!on && (await isLayerDir(dir))) await rm(dir, { recursive: true, force: true });
  }
}
