/**
 * `nx-pex lock`: resolves a project's `[project] dependencies` (or requirements) and writes a PEP 751
 * `pylock.toml` with every artifact's URL, size and sha256, so that a build can take it without
 * resolving. Either for a set of targets (interpreters, pex platforms, complete platforms), each
 * resolved on its own and its choices kept apart by markers, or universally (`--universal`): one
 * resolution for every environment, with the markers carried along the dependency edges.
 */
import { stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions, UserError, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import { readPyproject, type PyProject } from '@nx-pex/project';
import { IndexClient, readIndexConfig, redactUrl, type DistributionFile, type IndexConfig } from '@nx-pex/index';
import { WheelStore, type MetadataCache } from '@nx-pex/store';
import { LOCK_COMMAND_HEADER, PYLOCK_VERSION, formatPylock, type LockedArtifact, type PylockPackage } from '@nx-pex/lock';
import { parseRoot, requiresPythonHolds, resolve as resolveRequirements, sdistBuilder, type Resolution, type ResolvedPackage } from '@nx-pex/resolver';
import { downloadUnhashed } from './pinned';
import { withoutCredentials } from './sources';
import { targetFor, targetsFor } from './pipeline';
import { applyIndexOverrides } from './index-overrides';
import { createContext, type BuildContext } from './context';
import { indexCaches } from './index-cache';
import { environmentMarker, targetsMarker } from './lock-targets';
import { shownPath } from './outputs';
import { checkLockOutput, writeLockOutput, type LockOutputOptions } from './lock-output';

export interface LockRequirementsOptions {
  /** A project directory: its `[project] dependencies` and `requires-python` are locked. */
  projectDir?: string;
  /** Requirements (arguments and `-r` files), besides or instead of a project's. */
  requirements?: string[];
  constraints?: string[];
  /** Target interpreters (default `python3` when no platform is given either). */
  pythons?: string[];
  /** pex's abbreviated platforms (`--platform`), each a target. */
  platforms?: string[];
  /** pex's complete platforms (`--complete-platform`): JSON, or files holding it; each a target. */
  completePlatforms?: string[];
  /**
   * One resolution for every environment (`--universal`), limited by the project's
   * `requires-python` (else from the interpreter's minor version up); the interpreter (one
   * `--python`, default `python3`) only builds sdists.
   */
  universal?: boolean;
  /** Where the lock goes (default `<project>/pylock.toml`, else `./pylock.toml`). */
  outputFile?: string;
  /** Replace a pylock.toml nx-pex did not write (a user's own lock); without it that is refused. */
  replaceUserLock?: boolean;
  pre?: boolean;
  onlyBinary?: string[];
  noBinary?: string[];
}

export interface LockRequirementsResult {
  path: string;
  packages: number;
  /** The targets locked for (`universal` for a universal lock). */
  targets: string[];
}

interface Target {
  target: TargetPlatform;
  /** The interpreter that builds sdists for it. */
  python: string;
}

/** One `[[packages]]` entry being assembled: a name at one version, and who chose it. */
interface Entry {
  pkg: ResolvedPackage;
  targets: Set<string>;
  wheels: Map<string, LockedArtifact>;
  sdist?: LockedArtifact;
  archive?: LockedArtifact;
  directory?: string;
  index?: string;
}

/** The project locked (if any) and the requirements to lock: its dependencies and those given. */
async function lockRoots(o: LockRequirementsOptions): Promise<{ project?: PyProject; roots: Requirement[] }> {
  const project = o.projectDir ? await readPyproject(join(resolve(o.projectDir), 'pyproject.toml')) : undefined;
  if (project && !project.name) throw new UserError(`${project.file} has no [project] table, so there is nothing to lock.`);
  const roots: Requirement[] = [...(project?.dependencies ?? [])];
  const problems: string[] = [];
  for (const t of o.requirements ?? []) {
    try {
      roots.push(parseRoot(t));
    } catch (e) {
      if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  if (problems.length) throw new UserError(problems.join('\n'));
  if (roots.length === 0) throw new UserError(`Nothing to lock: ${project ? `${project.file} declares no [project] dependencies` : 'give requirements, -r files or --project'}.`);
  return { project, roots };
}

/** Resolves and writes the lock. */
export async function lockRequirements(o: LockRequirementsOptions, ctx: BuildContext = createContext()): Promise<LockRequirementsResult> {
  const { env } = ctx;
  const { project, roots } = await lockRoots(o);
  const constraints = (o.constraints ?? []).map((c) => parseRoot(c));
  const outputFile = resolve(o.outputFile ?? join(project?.dir ?? process.cwd(), 'pylock.toml'));
  // Before any request: a path that cannot take the lock is known now, not after the resolution.
  await checkLockOutput(outputFile, { replaceUserLock: o.replaceUserLock });
  const platformsGiven = (o.platforms?.length ?? 0) + (o.completePlatforms?.length ?? 0) > 0;
  checkUniversal(o, platformsGiven);

  const config = applyIndexOverrides(await readIndexConfig({ env, projectRoot: project?.dir ?? process.cwd() }), ctx.indexes);
  const store = new WheelStore(ctx.storeRoot);
  const { httpCache, metadataCache } = indexCaches(store.root, ctx.disableCache, env);
  const client = new IndexClient(config, { env, httpCache });
  try {
    // The interpreters' probes and the roots' project pages do not wait for each other (a probe
    // that is not cached runs Python for ~50-100 ms).
    for (const r of roots) if (!r.url) void client.projectFiles(r.name).catch(() => undefined);
    const targets = await lockTargets(o, project, platformsGiven, ctx);
    const run: LockRun = { o, ctx, roots, constraints, config, client, store, metadataCache, lockDir: dirname(outputFile), entries: new Map() };
    const locked = o.universal ? await lockUniversal(run, targets[0]!, project?.requiresPython) : await lockForTargets(run, targets, project?.requiresPython);

    const packages = pylockPackages(run.entries, locked.markers);
    await writeLockFile(outputFile, packages, locked.environments, locked.requiresPython, { replaceUserLock: o.replaceUserLock });
    const targetIds = o.universal ? ['universal'] : targets.map((t) => t.target.id);
    ctx.log(`wrote ${shownPath(outputFile)} (${packages.length} packages, ${targetIds.join(', ')})`);
    return { path: outputFile, packages: packages.length, targets: targetIds };
  } finally {
    await client.close();
    await store.release();
  }
}

/** What every resolution of one `nx-pex lock` run shares, and the entries they fill. */
interface LockRun {
  o: LockRequirementsOptions;
  ctx: BuildContext;
  roots: Requirement[];
  constraints: Requirement[];
  config: IndexConfig;
  client: IndexClient;
  store: WheelStore;
  metadataCache?: MetadataCache;
  /** The lock's directory: local paths in the lock are relative to it. */
  lockDir: string;
  /** The `[[packages]]` entries by `name==version`. */
  entries: Map<string, Entry>;
}

/** The resolutions' outcome besides the entries: each entry's marker and the lock's environments and requires-python. */
interface Locked {
  markers: Map<Entry, string | undefined>;
  environments: string[];
  requiresPython: string;
}

/** One resolution of the roots for a target (universal: for every environment `requiresPython` allows). */
function resolveTarget(run: LockRun, t: Target, universal?: { requiresPython?: string }): Promise<Resolution> {
  const { o, ctx, store } = run;
  return resolveRequirements(run.roots, {
    client: run.client,
    target: t.target,
    store,
    constraints: run.constraints,
    pre: o.pre,
    formats: { onlyBinary: o.onlyBinary, noBinary: o.noBinary },
    metadataCache: run.metadataCache,
    buildWheel: sdistBuilder({ python: t.python, target: t.target, store, env: ctx.env, index: run.config, log: ctx.log }),
    log: ctx.log,
    universal,
  });
}

/** The entry of a package's name and version, made on first sight. */
function entryOf(run: LockRun, p: ResolvedPackage): Entry {
  const key = `${p.name}==${p.version}`;
  let e = run.entries.get(key);
  if (!e) run.entries.set(key, (e = { pkg: p, targets: new Set(), wheels: new Map() }));
  return e;
}

const requirementCount = (n: number): string => `${n} requirement${n === 1 ? '' : 's'}`;
const minorOf = (pythonVersion: string): string => pythonVersion.split('.').slice(0, 2).join('.');

/** `--universal`: one resolution for every environment, each package keeping the marker it was reached under and every file of its version. */
async function lockUniversal(run: LockRun, t: Target, projectRequiresPython: string | undefined): Promise<Locked> {
  const requiresPython = projectRequiresPython ?? `>=${minorOf(t.target.pythonVersion)}`;
  run.ctx.log(`universal resolution for requires-python ${requiresPython} (sdists built with ${t.python}): ${requirementCount(run.roots.length)}`);
  const resolution = await resolveTarget(run, t, { requiresPython });
  const markers = new Map<Entry, string | undefined>();
  for (const p of resolution.packages) {
    const e = entryOf(run, p);
    markers.set(e, p.marker);
    await addFiles(e, p, p.files ?? [p.file], run);
  }
  return { markers, environments: [], requiresPython };
}

/** A resolution per target, each entry marked with the targets that chose it; requires-python defaults to the lowest target's. */
async function lockForTargets(run: LockRun, targets: Target[], projectRequiresPython: string | undefined): Promise<Locked> {
  for (const t of targets) {
    run.ctx.log(`target ${t.target.id} (${t.target.platform ? t.target.platform.kind + ' platform' : t.python}): resolving ${requirementCount(run.roots.length)}`);
    const resolution = await resolveTarget(run, t);
    for (const p of resolution.packages) {
      const e = entryOf(run, p);
      e.targets.add(t.target.id);
      await addFiles(e, p, [p.file], run);
    }
  }
  const all = targets.map((t) => t.target);
  const markers = new Map<Entry, string | undefined>();
  for (const e of run.entries.values()) markers.set(e, targetsMarker(all, e.targets, `${e.pkg.name} ${e.pkg.version}`));
  const requiresPython = projectRequiresPython ?? `>=${all.map((t) => minorOf(t.pythonVersion)).sort(compareVersions)[0]!}`;
  return { markers, environments: [...new Set(all.map(environmentMarker))], requiresPython };
}

/** The targets locked for (each with the interpreter that builds its sdists), without repeats; each must fit the project's requires-python. */
async function lockTargets(o: LockRequirementsOptions, project: PyProject | undefined, platformsGiven: boolean, ctx: BuildContext): Promise<Target[]> {
  const pythons = o.pythons?.length ? o.pythons : platformsGiven ? [] : ['python3'];
  const targets: Target[] = (await Promise.all(pythons.map((python) => targetFor(python, ctx)))).map((target, i) => ({ target, python: pythons[i]! }));
  if (platformsGiven) {
    for (const target of await targetsFor({ platforms: o.platforms, completePlatforms: o.completePlatforms }, ctx)) targets.push({ target, python: 'python3' });
  }
  const unique = targets.filter((t, i) => targets.findIndex((u) => u.target.id === t.target.id) === i);
  for (const { target, python } of unique) {
    if (!o.universal && project?.requiresPython && !requiresPythonHolds(project.requiresPython, target.pythonVersion)) {
      throw new UserError(`${target.platform ? `Platform ${target.id}` : python} is Python ${target.pythonVersion}, which ${project.file} excludes (requires-python ${project.requiresPython}).`);
    }
  }
  return unique;
}

/** --universal takes neither platforms nor several interpreters. */
function checkUniversal(o: LockRequirementsOptions, platformsGiven: boolean): void {
  if (o.universal && platformsGiven) {
    throw new UserError('--universal locks for every platform at once, so it takes no --platform or --complete-platform: drop them, or drop --universal to lock for those targets.');
  }
  if (o.universal && (o.pythons?.length ?? 0) > 1) {
    throw new UserError(`--universal takes at most one --python (the interpreter that builds sdists; the Python versions come from requires-python), not ${o.pythons!.join(', ')}.`);
  }
}

/** Writes the lock file (through a temporary file, so no half-written lock is ever seen). */
async function writeLockFile(outputFile: string, packages: PylockPackage[], environments: string[], requiresPython: string, o: LockOutputOptions): Promise<void> {
  const text = formatPylock({
    lockVersion: PYLOCK_VERSION,
    environments,
    requiresPython,
    extras: [],
    dependencyGroups: [],
    defaultGroups: [],
    createdBy: 'nx-pex',
    packages,
    header: [LOCK_COMMAND_HEADER],
  });
  await writeLockOutput(outputFile, text, o);
}

/** The lock's `[[packages]]`: each entry with its marker, sorted by name then version. */
function pylockPackages(entries: Map<string, Entry>, markers: Map<Entry, string | undefined>): PylockPackage[] {
  return [...entries.values()]
    .sort((a, b) => (a.pkg.name < b.pkg.name ? -1 : a.pkg.name > b.pkg.name ? 1 : compareVersions(a.pkg.version, b.pkg.version)))
    .map((e) => {
      const p: PylockPackage = { name: e.pkg.name, dependencies: [], wheels: [] };
      if (e.directory === undefined) p.version = e.pkg.version;
      const marker = markers.get(e);
      if (marker !== undefined) p.marker = marker;
      if (e.index !== undefined) p.index = e.index;
      if (e.directory !== undefined) p.directory = { path: e.directory };
      else if (e.archive) p.archive = e.archive;
      else {
        if (e.sdist) p.sdist = e.sdist;
        p.wheels = [...e.wheels.values()].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
      }
      return p;
    });
}

/** Adds the files one resolution took for a package (or, universal, every file of its version) to its entry. */
async function addFiles(e: Entry, pkg: ResolvedPackage, files: readonly DistributionFile[], ctx: { client: IndexClient; store: WheelStore; lockDir: string }): Promise<void> {
  const url = pkg.file.url;
  if (pkg.direct && url.startsWith('file:') && pkg.built && pkg.file.source === 'a local project') {
    e.directory = relative(ctx.lockDir, fileURLToPath(url)) || '.';
    return;
  }
  if (pkg.direct) {
    const f = await artifact(pkg.file, pkg, ctx.client, ctx.store);
    if (url.startsWith('file:')) {
      delete f.url;
      f.path = relative(ctx.lockDir, fileURLToPath(url));
    }
    if (!pkg.built && pkg.file.filename.endsWith('.whl')) e.wheels.set(f.filename, f);
    else e.archive = f;
    return;
  }
  e.index ??= indexOf(pkg);
  // PEP 751 lists one sdist: the .tar.gz (PEP 625) when there are several.
  const sdists = files.filter((f) => !f.filename.endsWith('.whl'));
  const sdist = e.sdist ? undefined : (sdists.find((f) => f.filename.endsWith('.tar.gz')) ?? sdists[0]);
  const wheels = files.filter((f) => f.filename.endsWith('.whl') && !e.wheels.has(f.filename));
  // Files the index gives no hash or size for are downloaded: several at once.
  const done = await Promise.all([...wheels, ...(sdist ? [sdist] : [])].map((f) => artifact(f, pkg, ctx.client, ctx.store)));
  for (const [i, f] of wheels.entries()) e.wheels.set(f.filename, done[i]!);
  if (sdist) e.sdist = done[wheels.length];
}

/** The index a package came from, as the lock records it (credentials never written). */
function indexOf(p: ResolvedPackage): string | undefined {
  if (!/^https?:/.test(p.file.source)) return undefined;
  const u = new URL(p.file.source);
  u.username = '';
  u.password = '';
  return u.href.replace(/\/+$/, '');
}

/** URL, size and sha256 of one file (downloading it when the index gives no hash, or no size for a file not yet in the store). */
async function artifact(file: DistributionFile, p: ResolvedPackage, client: IndexClient, store: WheelStore): Promise<LockedArtifact> {
  let sha256 = file.sha256 ?? (file === p.file ? p.sha256 : undefined);
  let size = file.size;
  if (size === undefined && file.url.startsWith('file:')) size = (await stat(fileURLToPath(file.url))).size;
  if (sha256 === undefined || (size === undefined && !(await store.get(sha256)))) {
    const got = await downloadUnhashed(file, client, store);
    if (sha256 !== undefined && got !== sha256) {
      throw new UserError(`${file.filename} from ${redactUrl(file.url)} has sha256 ${got}, but the index lists ${sha256}. The index serves another file than it lists: check the index (or its cache).`);
    }
    sha256 = got;
  }
  if (size === undefined) {
    const path = await store.get(sha256);
    if (path) size = (await stat(path)).size;
  }
  const f: LockedArtifact = { filename: file.filename, url: withoutCredentials(file.url), sha256 };
  if (size !== undefined) f.size = size;
  return f;
}
