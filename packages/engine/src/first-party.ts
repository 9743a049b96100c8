/**
 * Workspace projects inside a PEX, as distributions. In the default form (`firstParty:
 * "sources"`) each project's code goes into the PEX's user code with a `.dist-info` beside it,
 * so `importlib.metadata` (version, requires, entry points, files) answers as it does for an
 * installed wheel. The metadata comes from `pyproject.toml` when it is static; when a field that
 * matters is dynamic, from the project's own build backend, whose answer is kept in the store
 * under a key made of exactly what the backend reads (see `metadataKey`), so editing code never
 * runs a backend. In the `"wheel"` form each project is built into a wheel by its backend, as
 * `pex .` does, and goes into `.deps` like a third-party wheel.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { normalizeVersion, parseWheelFilename, UserError, type TargetPlatform } from '@nx-pex/pep';
import {
  buildBackendOf,
  distInfoFiles,
  entryPointsAreStatic,
  hasVersion,
  staticEntryPoints,
  layoutSources,
  mergeSources,
  metadataInputs,
  metadataNameVersion,
  metadataNeedsBackend,
  projectLayout,
  renderEntryPoints,
  renderMetadata,
  staticCoreMetadata,
  type PyProject,
  type RecordedFile,
  type SourceFile,
} from '@nx-pex/project';
import { readIndexConfig, type IndexConfig } from '@nx-pex/index';
import { defaultStoreRoot, sha256File, type ArtifactRequest } from '@nx-pex/store';
import { backendMetadata, keepInCopy, sdistBuilder } from '@nx-pex/resolver';
import { combineSources, directorySources } from './options';
import { applyIndexOverrides, type IndexOverrides } from './index-overrides';
import type { IndexContext } from './pipeline';

/** How workspace projects go into a PEX: their files with a `.dist-info` (default), or wheels their backends build. */
export type FirstPartyForm = 'sources' | 'wheel';

export const FIRST_PARTY_FORMS: readonly FirstPartyForm[] = ['sources', 'wheel'];

export interface FirstPartyOptions {
  form?: FirstPartyForm;
  /** The interpreter that runs build backends; default `python3`. */
  python?: string;
  /** The first target (a wheel a backend builds must fit it). */
  target: TargetPlatform;
  storeDir?: string;
  /** Directory whose index settings apply to the backends' build requirements. */
  projectRoot: string;
  indexes?: IndexOverrides;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The first-party part of a build. */
export interface FirstPartyBuild {
  /** Files for the PEX's user code: projects' code and dist-info, then `-D` directories. */
  sources: SourceFile[];
  /** The name of each project built into a wheel, for PEX-INFO requirements (the runtime activates it from `.deps`). */
  requirements: string[];
  /** The wheels of projects built by their backends (none in the sources form), made in the fetch step. */
  wheels: (ctx: IndexContext) => Promise<ArtifactRequest[]>;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A file's sha256 (as bytes, as RECORD wants it) and size. */
async function hashFile(path: string): Promise<{ sha256: Buffer; size: number }> {
  const { sha256, size } = await sha256File(path);
  return { sha256: Buffer.from(sha256, 'hex'), size };
}

/** Writes `json` at `path` so that readers see the whole file or none. */
async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

function git(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout) => resolve(err ? undefined : stdout.trim()));
  });
}

/**
 * What of the repository a VCS version plugin (hatch-vcs, setuptools-scm, pdm's scm source) reads:
 * the commit, the nearest tag and its distance, whether the tree is dirty, and, when it is, the
 * day (their default local version of a dirty tree carries the date).
 */
async function vcsState(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const head = await git(dir, ['rev-parse', 'HEAD'], env);
  if (head === undefined) return 'no-vcs';
  const describe = (await git(dir, ['describe', '--tags', '--long', '--always'], env)) ?? '';
  const dirty = ((await git(dir, ['status', '--porcelain', '--untracked-files=no'], env)) ?? '') !== '';
  return `${head} ${describe} ${dirty ? `dirty ${new Date().toISOString().slice(0, 10)}` : 'clean'}`;
}

/**
 * The store key of a project's backend metadata: the interpreter, the backend and its
 * requirements, pyproject.toml, every file `metadataInputs` names (by path and content) and,
 * when the version comes from the VCS, the repository's state. Nothing else a backend could read
 * for metadata is an input, so an edit of the project's code keeps the key.
 */
export async function metadataKey(project: PyProject, python: string, env: NodeJS.ProcessEnv): Promise<string> {
  const inputs = metadataInputs(project);
  const h = createHash('sha256').update('nx-pex first-party metadata 1\0');
  h.update(`${python}\0${buildBackendOf(project)}\0`);
  h.update(await readFile(project.file));
  for (const file of inputs.files) {
    if (file === project.file) continue;
    h.update(`\0${relative(project.dir, file).split(sep).join('/')}\0`);
    h.update(await readFile(file).catch(() => Buffer.from('<unreadable>')));
  }
  if (inputs.vcs) h.update(`\0vcs ${await vcsState(project.dir, env)}`);
  return h.digest('hex');
}

function buildSystem(project: PyProject): { requires: string[]; backend: string; backendPath: string[] } {
  const bs = (project.raw['build-system'] ?? {}) as Record<string, unknown>;
  const requires = Array.isArray(bs.requires) ? bs.requires.filter((r): r is string => typeof r === 'string') : ['setuptools>=40.8.0'];
  const backendPath = Array.isArray(bs['backend-path']) ? bs['backend-path'].filter((r): r is string => typeof r === 'string') : [];
  return { requires, backend: buildBackendOf(project), backendPath };
}

/**
 * The key of what a project's dist-info says: its pyproject.toml when the metadata is static
 * (nothing else is read), else the key of its backend's answer (`metadataKey`).
 */
export async function distInfoMetadataKey(project: PyProject, python: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (metadataNeedsBackend(project) !== undefined) return metadataKey(project, python, env);
  return createHash('sha256').update('nx-pex first-party static metadata 1\0').update(await readFile(project.file)).digest('hex');
}

/** A project's name, version, METADATA and entry_points.txt. */
export interface FirstPartyMetadata {
  name: string;
  version: string;
  metadata: Buffer;
  entryPoints?: Buffer;
}

/** Where a project's metadata comes from when its backend must be asked. */
export interface MetadataOptions {
  /** The interpreter that runs build backends; default `python3`. */
  python?: string;
  storeRoot: string;
  /** The index settings for the backend's build requirements (read only when a backend runs). */
  index: () => Promise<IndexConfig>;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The index settings of `projectRoot` with `indexes` applied, read once and only when asked for. */
export function lazyIndexConfig(projectRoot: string, indexes: IndexOverrides | undefined, env: NodeJS.ProcessEnv): () => Promise<IndexConfig> {
  let config: Promise<IndexConfig> | undefined;
  return () => (config ??= readIndexConfig({ env, projectRoot }).then((c) => applyIndexOverrides(c, indexes)));
}

/** A project's METADATA and entry_points.txt: from pyproject.toml, else from its backend (cached). */
export async function firstPartyMetadata(project: PyProject, o: MetadataOptions): Promise<FirstPartyMetadata> {
  const why = metadataNeedsBackend(project);
  if (why === undefined) {
    const meta = staticCoreMetadata(project);
    return { name: meta.name, version: meta.version, metadata: Buffer.from(renderMetadata(meta)), entryPoints: Buffer.from(renderEntryPoints(meta.entryPoints)) };
  }
  const env = o.env ?? process.env;
  const python = o.python ?? 'python3';
  const key = await metadataKey(project, python, env);
  const dir = join(o.storeRoot, 'first-party-metadata');
  const record = join(dir, `${key}.json`);
  type Kept = { metadata: string; entryPoints?: string };
  let kept = await readFile(record, 'utf8').then((t) => JSON.parse(t) as Kept, () => undefined);
  if (!kept) {
    o.log?.(`${project.name ?? project.dir}: ${why}; asking its build backend`);
    const bs = buildSystem(project);
    const got = await backendMetadata({
      python,
      projectDir: project.dir,
      requires: bs.requires,
      backend: bs.backend,
      backendPath: bs.backendPath,
      inPlace: metadataInputs(project).vcs,
      index: await o.index(),
      env,
      log: o.log,
    });
    kept = { metadata: got.metadata.toString('base64'), entryPoints: got.entryPoints?.toString('base64') };
    await mkdir(dir, { recursive: true });
    await writeAtomic(record, JSON.stringify(kept));
  }
  const metadata = Buffer.from(kept.metadata, 'base64');
  const { name, version } = metadataNameVersion(metadata.toString('utf8'));
  if (!name || !version) throw new UserError(`The build backend of ${project.dir} gave METADATA without a Name or Version.`);
  // prepare_metadata_for_build_wheel need not write entry_points.txt (hatchling does not): static
  // scripts and entry points then come from pyproject.toml, as the wheel would have them.
  let entryPoints = kept.entryPoints !== undefined ? Buffer.from(kept.entryPoints, 'base64') : undefined;
  if (entryPoints === undefined && entryPointsAreStatic(project)) entryPoints = Buffer.from(renderEntryPoints(staticEntryPoints(project)));
  return { name, version: normalizeVersion(version) ?? version, metadata, entryPoints };
}

/**
 * A dist-info directory in the store (`<root>/dist-info/<sha256 of its files>/`), written once
 * and renamed into place whole; the sources that point at its files.
 */
async function storedDistInfo(storeRoot: string, files: Array<{ path: string; data: Buffer }>): Promise<SourceFile[]> {
  const key = sha256(files.map((f) => `${f.path}\0${sha256(f.data)}`).join('\n'));
  const dir = join(storeRoot, 'dist-info', key);
  const present = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!present) {
    const tmp = join(storeRoot, 'tmp', `dist-info-${randomBytes(8).toString('hex')}`);
    try {
      for (const f of files) {
        const at = join(tmp, ...f.path.split('/'));
        await mkdir(join(at, '..'), { recursive: true });
        await writeFile(at, f.data);
      }
      await mkdir(join(storeRoot, 'dist-info'), { recursive: true });
      await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
        // Another build put the same directory there first.
        if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return files.map((f) => ({ path: f.path, absPath: join(dir, ...f.path.split('/')) }));
}

/** Every file of a project directory a wheel build reads (what `keepInCopy` copies), hashed: the key of its built wheel. */
async function projectTreeKey(dir: string, target: TargetPlatform, python: string): Promise<string> {
  const h = createHash('sha256').update(`nx-pex project wheel 1\0${python}\0${target.supportedTags.join(',')}\0`);
  const walk = async (d: string) => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = join(d, e.name);
      if (!keepInCopy(dir, full)) continue;
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) h.update(`${relative(dir, full).split(sep).join('/')}\0`).update((await hashFile(full)).sha256);
    }
  };
  await walk(dir);
  return h.digest('hex');
}

/** Builds (or takes from the store) the wheel of each project by its backend. */
function projectWheels(projects: readonly PyProject[], o: FirstPartyOptions) {
  return async (ctx: IndexContext): Promise<ArtifactRequest[]> => {
    if (projects.length === 0) return [];
    const python = o.python ?? 'python3';
    const build = sdistBuilder({ python, target: o.target, store: ctx.store, env: o.env, index: ctx.config, log: o.log });
    const out: ArtifactRequest[] = [];
    const records = join(ctx.store.root, 'built-projects');
    for (const p of projects) {
      const key = await projectTreeKey(p.dir, o.target, python);
      const record = join(records, `${key}.json`);
      type Kept = { filename: string; sha256: string; size: number };
      const kept = await readFile(record, 'utf8').then((t) => JSON.parse(t) as Kept, () => undefined);
      const path = kept ? await ctx.store.get(kept.sha256) : undefined;
      let wheel: Kept & { path: string };
      if (kept && path) wheel = { ...kept, path };
      else {
        wheel = await build({ kind: 'directory', path: p.dir, name: p.name, url: pathToFileURL(p.dir).href });
        await mkdir(records, { recursive: true });
        await writeAtomic(record, JSON.stringify({ filename: wheel.filename, sha256: wheel.sha256, size: wheel.size }));
      }
      const w = parseWheelFilename(wheel.filename);
      out.push({ project: w.name, version: w.version, filename: wheel.filename, sha256: wheel.sha256, size: wheel.size, url: pathToFileURL(wheel.path).href });
    }
    return out;
  };
}

/**
 * The first-party part of a PEX: in the sources form, each project's files at their PEX paths
 * (as its backend lays them out) with its dist-info; projects whose layout only their backend
 * knows, and every project in the wheel form, built into wheels in the fetch step.
 */
export async function buildFirstParty(projects: readonly PyProject[], dirs: readonly string[], o: FirstPartyOptions): Promise<FirstPartyBuild> {
  const env = o.env ?? process.env;
  const storeRoot = resolve(o.storeDir ?? defaultStoreRoot(env));
  const index = lazyIndexConfig(o.projectRoot, o.indexes, env);
  const asWheels: PyProject[] = [];
  const sets: Array<{ project: PyProject; files: SourceFile[] }> = [];
  for (const project of projects) {
    if (o.form === 'wheel') {
      asWheels.push(project);
      continue;
    }
    const layout = await projectLayout(project);
    if (layout.backend) {
      o.log?.(`${project.name}: ${layout.backend}; it goes in as the wheel its backend builds`);
      asWheels.push(project);
      continue;
    }
    const files = await layoutSources(layout);
    if (!hasVersion(project)) {
      sets.push({ project, files });
      continue;
    }
    const meta = await firstPartyMetadata(project, { python: o.python, log: o.log, env, storeRoot, index });
    const recorded: RecordedFile[] = [];
    for (const f of files) recorded.push({ path: f.path, ...(await hashFile(f.absPath)) });
    const distInfo = distInfoFiles({ name: meta.name, version: meta.version, metadata: meta.metadata, entryPoints: meta.entryPoints, files: recorded });
    sets.push({ project, files: [...files, ...(await storedDistInfo(storeRoot, distInfo))] });
  }
  return {
    sources: combineSources(mergeSources(sets), await directorySources(dirs)),
    requirements: asWheels.map((p) => p.canonicalName!).sort(),
    wheels: projectWheels(asWheels, o),
  };
}
