/**
 * pex's own way of building: requirements (from a lock, or pinned and found on the indexes),
 * source directories (`-D`), an entry point or script, one output file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { canonicalizeName, evaluateMarker, formatRequirement, parseRequirement, RequirementSyntaxError, UserError, type Requirement } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { readUvLock, requirementsClosure } from '@nx-pex/lock';
import { lockedArtifactRequests, selectLockedFiles } from './locked-sdists';
import { offlineFromEnv, type ArtifactRequest, type ProgressReporter } from '@nx-pex/store';
import { writePex } from '@nx-pex/pex';
import type { BuiltPex } from './build-project';
import { checkOptions, writerOptions, type PexBuildOptions } from './options';
import { resolve as resolveRequirements, parseRoot, sdistBuilder, type ResolvedPackage } from '@nx-pex/resolver';
import { downloadUnhashed } from './pinned';
import { buildSources, entryPointOf, lockedProjects, targetFor, withFetchedInputs, type IndexContext } from './pipeline';
import type { IndexOverrides } from './runtime';

export interface BuildRequirementsOptions {
  /** PEP 508 requirements (arguments and `-r` files). */
  requirements: string[];
  /** A uv.lock to take them from; without one they are resolved against the indexes and find-links. */
  lockFile?: string;
  /** Constraints (pex's `--constraints` files, read): they narrow versions and add no project. */
  constraints?: string[];
  /** Allow pre-releases (`--pre`). */
  pre?: boolean;
  /** Projects (or `:all:`) taken only as wheels (`--only-binary`, pex's `--no-build` is `:all:`). */
  onlyBinary?: string[];
  /** Projects (or `:all:`) always built from sdists (`--no-binary`, pex's `--no-wheel` is `:all:`). */
  noBinary?: string[];
  /** Only the requirements themselves, without their dependencies (`--no-transitive`). */
  noTransitive?: boolean;
  outputFile: string;
  /** Interpreter whose version and platform the PEX targets; default `python3`. */
  python?: string;
  storeDir?: string;
  /** `sources` must be absolute. */
  pex?: PexBuildOptions;
  indexes?: IndexOverrides;
  /** Take wheels from the store only (also `NX_PEX_OFFLINE=1`); only with a lock. */
  offline?: boolean;
  progress?: ProgressReporter;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface BuildRequirementsResult extends BuiltPex {
  target: string;
  wheels: number;
}

/** Parses every requirement (PEP 508, or a wheel, sdist or project path), reporting all bad ones at once. */
function parseAll(texts: readonly string[], local: boolean): Requirement[] {
  const out: Requirement[] = [];
  const problems: string[] = [];
  for (const t of texts) {
    try {
      out.push(local ? parseRoot(t) : parseRequirement(t));
    } catch (e) {
      if (e instanceof RequirementSyntaxError) problems.push(`"${t}" is not a valid requirement: ${e.message}`);
      else if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  if (problems.length === 1) throw new UserError(problems[0]!);
  if (problems.length > 1) throw new UserError(`${problems.length} requirements cannot be used:\n  ${problems.join('\n  ')}`);
  return out;
}

/** `url` without userinfo (for what is written down: PEX-INFO, locks). */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return url;
  }
}

/** The store request for a resolved package: its wheel, or the wheel built from it. */
async function resolvedArtifact(p: ResolvedPackage, ctx: IndexContext, log?: (line: string) => void): Promise<ArtifactRequest> {
  if (p.built) {
    return { project: p.name, version: p.version, filename: p.built.filename, sha256: p.built.sha256, size: p.built.size, url: pathToFileURL(p.built.path).href };
  }
  let sha256 = p.file.sha256 ?? p.sha256;
  if (!sha256) {
    sha256 = await downloadUnhashed(p.file, ctx.client, ctx.store);
    log?.(`${p.file.filename}: ${p.file.source} gives no sha256; downloaded it and computed sha256 ${sha256}`);
  }
  return { project: p.name, version: p.version, filename: p.file.filename, sha256, size: p.file.size, url: p.file.url };
}

/** PEX-INFO's requirement for a root: a local file or directory is named by its project and version, not its path. */
function rootRequirement(req: Requirement, packages: ResolvedPackage[]): string {
  // Credentials in a direct reference's URL never reach PEX-INFO.
  if (req.url && !req.url.startsWith('file:')) return formatRequirement({ ...req, url: withoutCredentials(req.url) });
  if (!req.url) return formatRequirement(req);
  const p = packages.find((x) => x.name === canonicalizeName(req.name));
  return formatRequirement({ ...req, url: undefined, specifier: p ? `==${p.version}` : '' });
}

/** Builds one PEX from requirements and source directories, as `pex REQ... -D DIR -o FILE` does. */
export async function buildRequirements(options: BuildRequirementsOptions): Promise<BuildRequirementsResult> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const o = options.pex ?? {};
  checkOptions(o, 'nx-pex options');
  const requirements = parseAll(options.requirements, !options.lockFile);
  const constraints = parseAll(options.constraints ?? [], false);
  const python = options.python ?? 'python3';
  const target = await targetFor(python, { storeDir: options.storeDir, env });
  const offline = options.offline ?? offlineFromEnv(env);
  const lockFile = options.lockFile ? resolve(options.lockFile) : undefined;

  let rootRequirements: string[] = [];
  let firstParty: PyProject[] = [];
  const fetchOptions = {
    target,
    projectRoot: lockFile ? dirname(lockFile) : process.cwd(),
    indexes: options.indexes,
    storeDir: options.storeDir,
    pexVersion: o.pexVersion,
    offline,
    progress: options.progress,
    log: options.log,
    env,
  };
  const collect = async ({ client, config, store }: IndexContext): Promise<ArtifactRequest[]> => {
    if (lockFile) {
      const lock = await readUvLock(lockFile);
      log(`target ${target.id} (${python}), lock ${lockFile}`);
      const closure = requirementsClosure(lock, requirements, target);
      firstParty = await lockedProjects(closure.firstParty, lockFile);
      // Workspace projects are in the PEX as code, not distributions: they stand for their own
      // declared dependencies in PEX-INFO.
      const own = new Set(closure.firstParty.map((p) => p.name));
      const roots = requirements.filter((r) => !own.has(canonicalizeName(r.name)));
      for (const p of firstParty) roots.push(...p.dependencies.filter((d) => !own.has(canonicalizeName(d.name))));
      rootRequirements = [...new Set(roots.map(formatRequirement))].sort();
      return lockedArtifactRequests(selectLockedFiles(closure, target, lockFile), { client, config, store }, { python, target, lockFile, env, offline, log });
    }
    if (offline && requirements.length > 0) {
      throw new UserError('Requirements without a lock are resolved against the indexes, which an offline build cannot do: give --lock, or build online.');
    }
    log(`target ${target.id} (${python}), resolving ${requirements.length} requirement${requirements.length === 1 ? '' : 's'} without a lock`);
    const resolution = await resolveRequirements(requirements, {
      client,
      target,
      store,
      constraints,
      pre: options.pre,
      formats: { onlyBinary: options.onlyBinary, noBinary: options.noBinary },
      noTransitive: options.noTransitive,
      buildWheel: sdistBuilder({ python, target, store, env, log }),
      log,
    });
    for (const p of resolution.packages) log(`  ${p.name} ${p.version}: ${p.built ? `${p.built.filename} (built from ${p.file.filename})` : p.file.filename}`);
    rootRequirements = [...new Set(requirements.filter((r) => !r.marker || evaluateMarker(r.marker, target.markerEnvironment)).map((r) => rootRequirement(r, resolution.packages)))].sort();
    return Promise.all(resolution.packages.map((p) => resolvedArtifact(p, { client, config, store }, log)));
  };
  const path = resolve(options.outputFile);
  const { result, wheels } = await withFetchedInputs(fetchOptions, collect, async ({ runtime, dependencies, shebang }) => {
    const sources = await buildSources(firstParty, o.sources ?? []);
    await mkdir(dirname(path), { recursive: true });
    // A console script of a workspace project taken from the lock: its code is in the PEX as
    // sources, not as a distribution, so its entry point is set here (as pex's -c would find it).
    const own = o.script !== undefined ? firstParty.find((p) => o.script! in p.scripts) : undefined;
    const executable = own ? { entryPoint: entryPointOf(own.scripts[o.script!]!), script: undefined } : {};
    const result = await writePex(path, {
      ...writerOptions(o),
      ...executable,
      runtime,
      dependencies,
      sources,
      requirements: rootRequirements,
      shebang: o.shebang ?? shebang,
    });
    log(`wrote ${relative(process.cwd(), path) || path} (${(result.bytes / 1e6).toFixed(1)} MB, ${dependencies.length} wheels)`);
    return { result, wheels: dependencies.length };
  });
  return {
    script: o.script ?? o.entryPoint ?? '',
    path,
    bytes: result.bytes,
    pexHash: result.pexHash,
    target: target.id,
    wheels,
  };
}
