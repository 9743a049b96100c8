/**
 * pex's own way of building: requirements (from a lock, or pinned and found on the indexes),
 * source directories (`-D`), an entry point or script, one output file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { canonicalizeName, formatRequirement, parseRequirement, RequirementSyntaxError, UserError, type Requirement } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { readUvLock, requirementsClosure, selectWheels } from '@nx-pex/lock';
import { offlineFromEnv, type ArtifactRequest, type ProgressReporter } from '@nx-pex/store';
import { writePex } from '@nx-pex/pex';
import type { BuiltPex } from './build-project';
import { checkOptions, writerOptions, type PexBuildOptions } from './options';
import { artifactRequest, resolvePinned } from './pinned';
import { buildSources, entryPointOf, lockedArtifactRequest, lockedProjects, targetFor, withFetchedInputs, type IndexContext } from './pipeline';
import type { IndexOverrides } from './runtime';
import { checkUtf8Path, outputTmpDir } from './outputs';

export interface BuildRequirementsOptions {
  /** PEP 508 requirements (arguments and `-r` files). */
  requirements: string[];
  /** A uv.lock to take them from; without one, each must be pinned (`==`). */
  lockFile?: string;
  outputFile: string;
  /** Interpreter whose version and platform the PEX targets; default `python3`. */
  python?: string;
  storeDir?: string;
  /** A local copy of the pinned pex wheel (the one the nx-pex package ships): the pinned runtime comes from it, not an index. */
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
  const requirements = parseAll(options.requirements);
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
    pexWheel: options.pexWheel,
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
      return selectWheels(closure, target, lockFile).map(lockedArtifactRequest);
    }
    if (offline && requirements.length > 0) {
      throw new UserError('Pinned requirements without a lock are looked up on the indexes, which an offline build cannot do: give --lock, or build online.');
    }
    log(`target ${target.id} (${python}), pinned requirements without a lock`);
    const resolved = await resolvePinned(options.requirements, { client, config, store, target, log });
    rootRequirements = resolved.requirements;
    return resolved.wheels.map(artifactRequest);
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
    target: target.id,
    wheels,
  };
}
