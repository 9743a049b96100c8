/**
 * pex's own way of building: requirements (from a lock, or pinned and found on the indexes),
 * source directories (`-D`), an entry point or script, one output file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { canonicalizeName, formatRequirement, parseRequirement, RequirementSyntaxError, UserError, type Requirement } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { isHashedLock, pylockClosure, readPylock, readRequirementsFileLock, requirementsClosure, selectWheels } from '@nx-pex/lock';
import { lockKind, pylockLockfile, readPackageLock } from './locks';
import { offlineFromEnv, type ArtifactRequest, type ProgressReporter } from '@nx-pex/store';
import { writePex } from '@nx-pex/pex';
import type { BuiltPex } from './build-project';
import { checkOptions, writerOptions, type PexBuildOptions } from './options';
import { artifactRequest, resolvePinned } from './pinned';
import { resolveHashed } from './hashed';
import { buildSources, describeTargets, entryPointOf, lockedArtifactRequest, lockedProjects, targetsFor, withFetchedInputs, type IndexContext } from './pipeline';
import type { IndexOverrides } from './runtime';
import { checkUtf8Path, outputTmpDir } from './outputs';

export interface BuildRequirementsOptions {
  /** PEP 508 requirements (arguments). */
  requirements: string[];
  /**
   * pip requirements files (`-r`): their requirements join `requirements`, their index lines the
   * index settings; a file whose every requirement is pinned and hashed is taken as a lock.
   */
  requirementFiles?: string[];
  /** A uv.lock to take them from; without one, each must be pinned (`==`). */
  lockFile?: string;
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
  progress?: ProgressReporter;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface BuildRequirementsResult extends BuiltPex {
  target: string;
  wheels: number;
}

function parseAll(texts: readonly string[]): Requirement[] {
  return texts.map((t) => {
    try {
      return parseRequirement(t);
    } catch (e) {
      if (e instanceof RequirementSyntaxError) throw new UserError(`"${t}" is not a valid requirement: ${e.message}`);
      throw e;
    }
  });
}

/** Builds one PEX from requirements and source directories, as `pex REQ... -D DIR -o FILE` does. */
export async function buildRequirements(options: BuildRequirementsOptions): Promise<BuildRequirementsResult> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const o = options.pex ?? {};
  checkOptions(o, 'nx-pex options');
  if (o.layers || o.docker || o.dockerBaseImage !== undefined) {
    throw new UserError(
      `${o.docker ? '--docker' : o.layers ? '--layers' : '--docker-base-image'} applies to project builds: give --project DIR (or use the Nx target), ` +
        'so that the sources layer holds the project\'s code.',
    );
  }
  // A requirements file given as the lock is a requirements file like -r.
  const givenLock = options.lockFile ? resolve(options.lockFile) : undefined;
  const lockKindOf = givenLock ? await lockKind(givenLock) : undefined;
  const requirementFiles = [...(options.requirementFiles ?? []), ...(lockKindOf === 'requirements' ? [givenLock!] : [])];
  const files = await Promise.all(requirementFiles.map((f) => readRequirementsFileLock(f, env)));
  const fileLines = files.flatMap((f) => f.requirements);
  const texts = [...options.requirements, ...fileLines.map((l) => l.text)];
  const hashed = files.length > 0 && isHashedLock({ ...files[0]!, path: files.map((f) => f.path).join(', '), requirements: fileLines });
  if (hashed && options.requirements.length > 0) {
    throw new UserError(
      `${files.map((f) => f.path).join(', ')} hash every requirement, so the requirements given as arguments (${options.requirements.join(' ')}) need hashes too, as in pip's hash-checking mode: add them to the file with their hashes.`,
    );
  }
  const requirements = parseAll(texts);
  const python = options.python;
  const targets = await targetsFor({ python, platforms: o.platforms, completePlatforms: o.completePlatforms, storeDir: options.storeDir, env });
  const target = targets[0]!;
  const described = describeTargets(targets, python);
  const offline = options.offline ?? offlineFromEnv(env);
  const lockFile = lockKindOf === 'requirements' ? undefined : givenLock;

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
    progress: options.progress,
    log: options.log,
    env,
  };
  const collect = async ({ client, config, store }: IndexContext): Promise<ArtifactRequest[]> => {
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
        requests.push(...selectWheels(closure, t, lockFile).map(lockedArtifactRequest));
      }
      firstParty = [...byName.values()];
      rootRequirements = [...roots].sort();
      return requests;
    }
    if (offline && requirements.length > 0) {
      throw new UserError(
        hashed
          ? 'A hashed requirements file names its files by sha256 only, so they are looked up on the indexes, which an offline build cannot do: build online, or use a lock that names its files (uv.lock, poetry.lock).'
          : 'Pinned requirements without a lock are looked up on the indexes, which an offline build cannot do: give --lock, or build online.',
      );
    }
    log(`${described}, ${hashed ? `hashed requirements (${files.map((f) => f.path).join(', ')}) as a lock` : 'pinned requirements without a lock'}`);
    const requests: ArtifactRequest[] = [];
    const roots = new Set<string>();
    for (const t of targets) {
      const resolved = hashed
        ? await resolveHashed(fileLines, { client, config, store, target: t, log })
        : await resolvePinned(texts, { client, config, store, target: t, log });
      for (const r of resolved.requirements) roots.add(r);
      requests.push(...resolved.wheels.map(artifactRequest));
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
    target: targets.map((t) => t.id).join(', '),
    wheels,
  };
}
