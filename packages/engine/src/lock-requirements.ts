/**
 * `nx-pex lock`: resolves a project's `[project] dependencies` (or requirements) for one or more
 * target interpreters and writes a PEP 751 `pylock.toml` with every artifact's URL, size and
 * sha256, so that a build can take it without resolving.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { UserError, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import { readPyproject } from '@nx-pex/project';
import { IndexClient, readIndexConfig } from '@nx-pex/index';
import { WheelStore, defaultStoreRoot } from '@nx-pex/store';
import { formatPylock, parseRoot, requiresPythonHolds, resolve as resolveRequirements, sdistBuilder, type PylockFile, type PylockPackage, type ResolvedPackage } from '@nx-pex/resolver';
import { downloadUnhashed } from './pinned';
import { withoutCredentials } from './build-requirements';
import { targetFor } from './pipeline';
import { applyIndexOverrides, type IndexOverrides } from './runtime';

export interface LockRequirementsOptions {
  /** A project directory: its `[project] dependencies` and `requires-python` are locked. */
  projectDir?: string;
  /** Requirements (arguments and `-r` files), besides or instead of a project's. */
  requirements?: string[];
  constraints?: string[];
  /** Target interpreters (default `python3`); the lock holds what each of them needs. */
  pythons?: string[];
  /** Where the lock goes (default `<project>/pylock.toml`, else `./pylock.toml`). */
  outputFile?: string;
  pre?: boolean;
  onlyBinary?: string[];
  noBinary?: string[];
  storeDir?: string;
  indexes?: IndexOverrides;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface LockRequirementsResult {
  path: string;
  packages: number;
  targets: string[];
}

/** A marker that holds exactly on one target interpreter. */
function targetMarker(t: TargetPlatform): string {
  const e = t.markerEnvironment;
  return `python_full_version == "${e.python_full_version}" and implementation_name == "${e.implementation_name}" and sys_platform == "${e.sys_platform}" and platform_machine == "${e.platform_machine}"`;
}

/** Resolves and writes the lock. */
export async function lockRequirements(o: LockRequirementsOptions): Promise<LockRequirementsResult> {
  const env = o.env ?? process.env;
  const log = o.log ?? (() => undefined);
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
  const constraints = (o.constraints ?? []).map((c) => parseRoot(c));
  const outputFile = resolve(o.outputFile ?? join(project?.dir ?? process.cwd(), 'pylock.toml'));
  const lockDir = dirname(outputFile);

  const config = applyIndexOverrides(await readIndexConfig({ env, projectRoot: project?.dir ?? process.cwd() }), o.indexes);
  // A resolution fetches many small pages and metadata files as it discovers them: more of them
  // at once than a build's few large wheels (uv has up to 50 requests in flight).
  const client = new IndexClient(config, { env, connectionsPerHost: 16 });
  const store = new WheelStore(resolve(o.storeDir ?? defaultStoreRoot(env)));
  try {
    const pythons = o.pythons?.length ? o.pythons : ['python3'];
    const merged = new Map<string, { pkg: ResolvedPackage; targets: Set<string>; wheels: Map<string, PylockFile> }>();
    const targetIds: string[] = [];
    const markers: string[] = [];
    // Neither the interpreters' probes nor the roots' project pages depend on each other: all
    // started at once (a probe that is not cached runs Python for ~50-100 ms).
    for (const r of roots) if (!r.url) void client.projectFiles(r.name).catch(() => undefined);
    const probes = pythons.map((python) => targetFor(python, { storeDir: o.storeDir, env }));
    for (const p of probes) p.catch(() => undefined);
    for (const [i, python] of pythons.entries()) {
      const target = await probes[i]!;
      if (project?.requiresPython && !requiresPythonHolds(project.requiresPython, target.pythonVersion)) {
        throw new UserError(`${python} is Python ${target.pythonVersion}, which ${project.file} excludes (requires-python ${project.requiresPython}).`);
      }
      targetIds.push(target.id);
      markers.push(targetMarker(target));
      log(`target ${target.id} (${python}): resolving ${roots.length} requirement${roots.length === 1 ? '' : 's'}`);
      const resolution = await resolveRequirements(roots, {
        client,
        target,
        store,
        constraints,
        pre: o.pre,
        formats: { onlyBinary: o.onlyBinary, noBinary: o.noBinary },
        buildWheel: sdistBuilder({ python, target, store, env, log }),
        log,
      });
      for (const p of resolution.packages) {
        const key = `${p.name}==${p.version}`;
        let entry = merged.get(key);
        if (!entry) merged.set(key, (entry = { pkg: p, targets: new Set(), wheels: new Map() }));
        entry.targets.add(target.id);
        if (!p.built && !p.direct) entry.wheels.set(p.file.filename, await artifact(p, client, store));
      }
    }

    const packages: PylockPackage[] = [];
    for (const { pkg, targets, wheels } of merged.values()) {
      const entry: PylockPackage = { name: pkg.name, version: pkg.version };
      if (targets.size < targetIds.length) {
        entry.marker = targetIds.map((id, i) => (targets.has(id) ? `(${markers[i]})` : undefined)).filter(Boolean).join(' or ');
      }
      const url = pkg.file.url;
      if (pkg.direct && url.startsWith('file:') && pkg.built && pkg.file.source === 'a local project') {
        entry.directory = relative(lockDir, fileURLToPath(url)) || '.';
      } else if (pkg.built || pkg.direct) {
        const file = await artifact(pkg, client, store);
        const local = url.startsWith('file:');
        const where = local ? { path: relative(lockDir, fileURLToPath(url)) } : { url: withoutCredentials(url) };
        const f: PylockFile = { ...file, ...where };
        if (!local) delete f.path;
        else delete f.url;
        if (pkg.direct && !pkg.built && pkg.file.filename.endsWith('.whl')) entry.wheels = [f];
        else if (pkg.direct) entry.archive = f;
        else entry.sdist = f;
        if (!pkg.direct) entry.index = indexOf(pkg);
      } else {
        entry.wheels = [...wheels.values()];
        entry.index = indexOf(pkg);
      }
      packages.push(entry);
    }
    const text = formatPylock({
      environments: markers,
      requiresPython: project?.requiresPython,
      createdBy: 'nx-pex',
      packages,
    });
    await mkdir(lockDir, { recursive: true });
    const tmp = `${outputFile}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, outputFile);
    log(`wrote ${relative(process.cwd(), outputFile) || outputFile} (${packages.length} packages, ${targetIds.join(', ')})`);
    return { path: outputFile, packages: packages.length, targets: targetIds };
  } finally {
    await client.close();
    await store.release();
  }
}

/** The index a package came from, as the lock records it (credentials never written). */
function indexOf(p: ResolvedPackage): string | undefined {
  if (!/^https?:/.test(p.file.source)) return undefined;
  const u = new URL(p.file.source);
  u.username = '';
  u.password = '';
  return u.href.replace(/\/+$/, '');
}

/** URL, size and sha256 of the file a package was resolved to (downloading it when the index gives no hash). */
async function artifact(p: ResolvedPackage, client: IndexClient, store: WheelStore): Promise<PylockFile> {
  const sha256 = p.file.sha256 ?? p.sha256 ?? (await downloadUnhashed(p.file, client, store));
  let size = p.file.size;
  if (size === undefined) {
    const path = await store.get(sha256);
    if (path) size = (await stat(path)).size;
    else if (p.file.url.startsWith('file:')) size = (await stat(fileURLToPath(p.file.url))).size;
  }
  const f: PylockFile = { name: p.file.filename, url: withoutCredentials(p.file.url), sha256 };
  if (size !== undefined) f.size = size;
  return f;
}
