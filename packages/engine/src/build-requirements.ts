/**
 * pex's own way of building: requirements (from a lock, a hashed requirements file, or resolved
 * against the indexes and find-links), source directories (`-D`), an entry point or script, one
 * output file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { canonicalizeName, evaluateMarker, formatRequirement, parseRequirement, RequirementSyntaxError, UserError, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { isHashedLock, pylockClosure, readPylock, readRequirementsFileLock, requirementsClosure } from '@nx-pex/lock';
import { resolve as resolveRequirements, parseCoreMetadata, parseRoot, readWheelMetadata, sdistBuilder, type ResolvedPackage } from '@nx-pex/resolver';
import { lockedArtifactRequests, selectLockedFiles } from './locked-sdists';
import { lockKind, pylockLockfile, readPackageLock } from './locks';
import { offlineFromEnv, type ArtifactRequest, type ProgressReporter } from '@nx-pex/store';
import { writePex } from '@nx-pex/pex';
import type { BuiltPex } from './build-project';
import { checkOptions, writerOptions, type PexBuildOptions } from './options';
import { linkWheelsToStore } from './layers';
import { artifactRequest, downloadUnhashed } from './pinned';
import { resolveHashed } from './hashed';
import { buildSources, describeTargets, entryPointOf, lockedProjects, targetsFor, withFetchedInputs, type IndexContext } from './pipeline';
import type { IndexOverrides } from './index-overrides';
import { checkUtf8Path, outputTmpDir } from './outputs';

export interface BuildRequirementsOptions {
  /** Requirements (arguments): PEP 508, or (without a lock) a local project, wheel or sdist path. */
  requirements: string[];
  /**
   * pip requirements files (`-r`): their requirements join `requirements`, their index lines the
   * index settings; a file whose every requirement is pinned and hashed is taken as a lock.
   */
  requirementFiles?: string[];
  /** A lock to take them from; without one they are resolved against the indexes and find-links. */
  lockFile?: string;
  /** Constraints (pex's `--constraints` files): they narrow versions and add no project. */
  constraintFiles?: string[];
  /** Allow pre-releases (`--pre`). */
  pre?: boolean;
  /** Projects (or `:all:`) taken only as wheels (`--only-binary`; pex's `--no-build` is `:all:`). */
  onlyBinary?: string[];
  /** Projects (or `:all:`) always built from sdists (`--no-binary`; pex's `--no-wheel` is `:all:`). */
  noBinary?: string[];
  /** Only the requirements themselves, without their dependencies (`--no-transitive`). */
  noTransitive?: boolean;
  outputFile: string;
  /** Interpreter whose version and platform the PEX targets, when no platform is given; default `python3`. */
  python?: string;
  storeDir?: string;
  /** A local copy of the pinned pex wheel, whose runtime is taken without any index; default: the one the nx-pex package carries, when these sources run from it. */
  pexWheel?: string;
  /** `sources` must be absolute. */
  pex?: PexBuildOptions;
  indexes?: IndexOverrides;
  /** Take wheels from the store only (also `NX_PEX_OFFLINE=1`); only with a lock. */
  offline?: boolean;
  /** Do not read or keep index pages and metadata in the store (pex's `--disable-cache`; also NX_PEX_DISABLE_CACHE=1). */
  disableCache?: boolean;
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

/**
 * PEX-INFO's requirement for a root: a local file or directory is named by its project and
 * version, not its path; as pex does, by the Name and Version of its wheel's METADATA
 * (`PyYAML==6.0.4` for `pyyaml-6.0.4-….whl`).
 */
async function rootRequirement(req: Requirement, packages: ResolvedPackage[]): Promise<string> {
  // Credentials in a direct reference's URL never reach PEX-INFO.
  if (req.url && !req.url.startsWith('file:')) return formatRequirement({ ...req, url: withoutCredentials(req.url) });
  if (!req.url) return formatRequirement(req);
  const p = packages.find((x) => x.name === canonicalizeName(req.name));
  if (!p) return formatRequirement({ ...req, url: undefined, specifier: '' });
  const wheel = p.built ?? (p.file.filename.endsWith('.whl') && p.file.url.startsWith('file:') ? { path: fileURLToPath(p.file.url), filename: p.file.filename } : undefined);
  const metadata = wheel ? parseCoreMetadata(await readWheelMetadata(wheel.path, wheel.filename)) : undefined;
  return formatRequirement({ ...req, name: metadata?.name || req.name, url: undefined, specifier: `==${metadata?.version || p.version}` });
}

const holds = (r: Requirement, t: TargetPlatform) => !r.marker || evaluateMarker(r.marker, t.markerEnvironment);

/** Builds one PEX from requirements and source directories, as `pex REQ... -D DIR -o FILE` does. */
export async function buildRequirements(options: BuildRequirementsOptions): Promise<BuildRequirementsResult> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const o = options.pex ?? {};
  checkOptions(o, 'nx-pex options');
  if (o.layers || o.docker || o.dockerBaseImage !== undefined || o.fullPex === false) {
    throw new UserError(
      `${o.docker ? '--docker' : o.layers ? '--layers' : o.fullPex === false ? '--no-full-pex' : '--docker-base-image'} applies to project builds: give --project DIR (or use the Nx target), ` +
        'so that the sources layer holds the project\'s code.',
    );
  }
  // A requirements file given as the lock is a requirements file like -r.
  const givenLock = options.lockFile ? resolve(options.lockFile) : undefined;
  const lockKindOf = givenLock ? await lockKind(givenLock) : undefined;
  const requirementFiles = [...(options.requirementFiles ?? []), ...(lockKindOf === 'requirements' ? [givenLock!] : [])];
  // Without a lock, requirements files may name local projects and wheel or sdist files, and -e
  // lines are plain requirements, as pex takes them.
  const lineParser = lockKindOf === undefined || lockKindOf === 'requirements' ? { parseLine: parseRoot } : {};
  const files = await Promise.all(requirementFiles.map((f) => readRequirementsFileLock(f, env, lineParser)));
  const fileLines = files.flatMap((f) => f.requirements);
  const constraintFiles = await Promise.all((options.constraintFiles ?? []).map((f) => readRequirementsFileLock(f, env)));
  const constraints = [...files, ...constraintFiles].flatMap((f) => [...f.constraints, ...(constraintFiles.includes(f) ? f.requirements : [])]).map((l) => l.requirement);
  const hashed = files.length > 0 && isHashedLock({ ...files[0]!, path: files.map((f) => f.path).join(', '), requirements: fileLines });
  if (hashed && options.requirements.length > 0) {
    throw new UserError(
      `${files.map((f) => f.path).join(', ')} hash every requirement, so the requirements given as arguments (${options.requirements.join(' ')}) need hashes too, as in pip's hash-checking mode: add them to the file with their hashes.`,
    );
  }
  const lockFile = lockKindOf === 'requirements' ? undefined : givenLock;
  const requirements = [...parseAll(options.requirements, !lockFile), ...fileLines.map((l) => l.requirement)];
  const python = options.python;
  const targets = await targetsFor({ python, platforms: o.platforms, completePlatforms: o.completePlatforms, storeDir: options.storeDir, env });
  const target = targets[0]!;
  const described = describeTargets(targets, python);
  const offline = options.offline ?? offlineFromEnv(env);

  let rootRequirements: string[] = [];
  let firstParty: PyProject[] = [];
  const fetchOptions = {
    target,
    targets,
    projectRoot: lockFile ? dirname(lockFile) : process.cwd(),
    indexes: options.indexes,
    requirementsFiles: files,
    storeDir: options.storeDir,
    pexVersion: o.pexVersion,
    pexWheel: options.pexWheel,
    offline,
    disableCache: options.disableCache,
    progress: options.progress,
    log: options.log,
    env,
  };
  const collect = async ({ client, config, store, metadataCache }: IndexContext): Promise<ArtifactRequest[]> => {
    if (lockFile) {
      // pex's --pylock without requirements installs the whole lock: every package whose marker holds.
      const pylock = lockKindOf === 'pylock' ? await readPylock(lockFile) : undefined;
      const lock = pylock ? pylockLockfile(pylock, lockFile) : await readPackageLock(lockFile, lockKindOf!);
      log(`${described}, lock ${lockFile}`);
      const requests: ArtifactRequest[] = [];
      const byName = new Map<string, PyProject>();
      const roots = new Set<string>();
      for (const t of targets) {
        const wholeLock = pylock && requirements.length === 0;
        const closure = wholeLock ? pylockClosure(pylock, t) : requirementsClosure(lock, requirements, t);
        if (wholeLock) for (const p of closure.thirdParty) roots.add(p.version ? `${p.name}==${p.version}` : p.name);
        const fresh = closure.firstParty.filter((p) => !byName.has(p.name));
        for (const p of await lockedProjects(fresh, lockFile)) byName.set(p.canonicalName!, p);
        // Workspace projects are in the PEX as code, not distributions: they stand for their own
        // declared dependencies in PEX-INFO.
        const own = new Set(closure.firstParty.map((p) => p.name));
        for (const r of requirements) if (!own.has(canonicalizeName(r.name))) roots.add(formatRequirement(r));
        for (const p of closure.firstParty) {
          const py = byName.get(p.name);
          if (py) for (const d of py.dependencies) if (!own.has(canonicalizeName(d.name))) roots.add(formatRequirement(d));
        }
        requests.push(
          ...(await lockedArtifactRequests(selectLockedFiles(closure, t, lockFile), { client, config, store }, { python: python ?? 'python3', target: t, lockFile, env, offline, log })),
        );
      }
      firstParty = [...byName.values()];
      rootRequirements = [...roots].sort();
      return requests;
    }
    if (offline && requirements.length > 0) {
      throw new UserError(
        hashed
          ? 'A hashed requirements file names its files by sha256 only, so they are looked up on the indexes, which an offline build cannot do: build online, or use a lock that names its files (uv.lock, poetry.lock).'
          : 'Requirements without a lock are resolved against the indexes, which an offline build cannot do: give --lock, or build online.',
      );
    }
    const requests: ArtifactRequest[] = [];
    const roots = new Set<string>();
    if (hashed) {
      log(`${described}, hashed requirements (${files.map((f) => f.path).join(', ')}) as a lock`);
      for (const t of targets) {
        const resolved = await resolveHashed(fileLines, { client, config, store, target: t, log });
        for (const r of resolved.requirements) roots.add(r);
        requests.push(...resolved.wheels.map(artifactRequest));
      }
    } else {
      log(`${described}, resolving ${requirements.length} requirement${requirements.length === 1 ? '' : 's'} without a lock`);
      // One resolution per target, as pex resolves for each platform; the PEX holds every target's wheels.
      for (const t of targets) {
        const resolution = await resolveRequirements(requirements, {
          client,
          target: t,
          store,
          constraints,
          pre: options.pre,
          formats: { onlyBinary: options.onlyBinary, noBinary: options.noBinary },
          noTransitive: options.noTransitive,
          metadataCache,
          buildWheel: sdistBuilder({ python: python ?? 'python3', target: t, store, env, index: config, log }),
          log,
        });
        for (const p of resolution.packages) log(`  ${p.name} ${p.version}: ${p.built ? `${p.built.filename} (built from ${p.file.filename})` : p.file.filename}`);
        for (const r of requirements) if (holds(r, t)) roots.add(await rootRequirement(r, resolution.packages));
        requests.push(...(await Promise.all(resolution.packages.map((p) => resolvedArtifact(p, { client, config, store }, log)))));
      }
    }
    rootRequirements = [...roots].sort();
    return requests;
  };
  checkUtf8Path(options.outputFile, 'The output path');
  const path = resolve(options.outputFile);
  const { result, wheels } = await withFetchedInputs(fetchOptions, collect, async ({ runtime, dependencies, shebang, storeRoot }) => {
    const sources = await buildSources(firstParty, o.sources ?? []);
    await mkdir(dirname(path), { recursive: true });
    // A console script of a workspace project taken from the lock: its code is in the PEX as
    // sources, not as a distribution, so its entry point is set here (as pex's -c would find it).
    const own = o.script !== undefined ? firstParty.find((p) => o.script! in p.scripts) : undefined;
    const executable = own ? { entryPoint: entryPointOf(own.scripts[o.script!]!), script: undefined } : {};
    const result = await writePex(path, {
      tmpDir: await outputTmpDir(storeRoot, dirname(path)),
      ...writerOptions(o),
      // Without the dependencies' dependencies the runtime cannot resolve every requirement at
      // boot: pex's --no-transitive implies --ignore-errors.
      ...(options.noTransitive ? { ignoreErrors: true } : {}),
      ...executable,
      runtime,
      dependencies,
      sources,
      requirements: rootRequirements,
      shebang: o.shebang ?? shebang,
    });
    await linkWheelsToStore(path, { ...writerOptions(o), dependencies });
    log(`wrote ${relative(process.cwd(), path) || path} (${(result.bytes / 1e6).toFixed(1)} MB, ${dependencies.length} wheels)`);
    return { result, wheels: dependencies.length };
  });
  return {
    script: o.script ?? o.entryPoint ?? '',
    path,
    bytes: result.bytes,
    pexHash: result.pexHash,
    target: targets.map((t) => t.id).join(', '),
    wheels,
  };
}
