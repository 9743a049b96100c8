/**
 * pex's own way of building: requirements (from a lock, or pinned and found on the indexes),
 * source directories (`-D`), an entry point or script, one output file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { canonicalizeName, formatRequirement, parseRequirement, RequirementSyntaxError, UserError, type Requirement } from '@nx-pex/pep';
import { collectSources, mergeSources, readPyproject, type PyProject } from '@nx-pex/project';
import { readUvLock, requirementsClosure, selectWheels } from '@nx-pex/lock';
import { IndexClient, readIndexConfig } from '@nx-pex/index';
import { WheelStore, defaultStoreRoot, fetchArtifacts, lineProgress, offlineFromEnv, type ArtifactRequest, type ProgressReporter } from '@nx-pex/store';
import { writePex, type PexDependency } from '@nx-pex/pex';
import { lockedArtifactRequest, targetFor, type BuiltPex } from './build-project';
import { checkOptions, combineSources, directorySources, writerOptions, type PexBuildOptions } from './options';
import { artifactRequest, resolvePinned } from './pinned';
import { applyIndexOverrides, chooseRuntime, runtimeFromWheel, type IndexOverrides } from './runtime';

export interface BuildRequirementsOptions {
  /** PEP 508 requirements (arguments and `-r` files). */
  requirements: string[];
  /** A uv.lock to take them from; without one, each must be pinned (`==`). */
  lockFile?: string;
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
  const requirements = parseAll(options.requirements);
  const python = options.python ?? 'python3';
  const target = await targetFor(python);
  const offline = options.offline ?? offlineFromEnv(env);
  const config = applyIndexOverrides(
    await readIndexConfig({ env, projectRoot: options.lockFile ? dirname(resolve(options.lockFile)) : process.cwd() }),
    options.indexes,
  );
  const client = new IndexClient(config, { env });
  const store = new WheelStore(options.storeDir ?? defaultStoreRoot(env));

  const requests: ArtifactRequest[] = [];
  let rootRequirements: string[];
  const firstParty: PyProject[] = [];
  let runtimeRequest;
  let paths: Map<string, string>;
  try {
    if (options.lockFile) {
      const lockFile = resolve(options.lockFile);
      const lock = await readUvLock(lockFile);
      log(`target ${target.id} (${python}), lock ${lockFile}`);
      const closure = requirementsClosure(lock, requirements, target);
      requests.push(...selectWheels(closure, target, lockFile).map(lockedArtifactRequest));
      for (const pkg of closure.firstParty) {
        if ('path' in pkg.source) firstParty.push(await readPyproject(join(dirname(lockFile), pkg.source.path, 'pyproject.toml')));
      }
      // Workspace projects are in the PEX as code, not distributions: they stand for their own
      // declared dependencies in PEX-INFO.
      const own = new Set(closure.firstParty.map((p) => p.name));
      const roots = requirements.filter((r) => !own.has(canonicalizeName(r.name)));
      for (const p of firstParty) roots.push(...p.dependencies.filter((d) => !own.has(canonicalizeName(d.name))));
      rootRequirements = [...new Set(roots.map(formatRequirement))].sort();
    } else {
      if (offline && requirements.length > 0) {
        throw new UserError('Pinned requirements without a lock are looked up on the indexes, which an offline build cannot do: give --lock, or build online.');
      }
      log(`target ${target.id} (${python}), pinned requirements without a lock`);
      const resolved = await resolvePinned(options.requirements, { client, config, store, target, log });
      requests.push(...resolved.wheels.map(artifactRequest));
      rootRequirements = resolved.requirements;
    }
    const runtime = await chooseRuntime(o.pexVersion, { client, store, target, log });
    runtimeRequest = runtime;
    paths = await fetchArtifacts([...requests, runtime.request], {
      store,
      client,
      config,
      log,
      offline,
      progress: options.progress ?? (options.log ? lineProgress(options.log) : undefined),
    });
  } finally {
    await client.close();
  }
  const runtime = await runtimeFromWheel(paths.get(runtimeRequest.request.sha256)!, runtimeRequest.version);
  const dependencies: PexDependency[] = requests.map((r) => ({ filename: r.filename, sha256: r.sha256, path: paths.get(r.sha256.toLowerCase())! }));
  const sources = combineSources(
    firstParty.length ? mergeSources(await Promise.all(firstParty.map(async (p) => ({ project: p, files: await collectSources(p) })))) : [],
    await directorySources(o.sources ?? []),
  );

  const [major, minor] = target.pythonVersion.split('.');
  const path = resolve(options.outputFile);
  await mkdir(dirname(path), { recursive: true });
  // A console script of a workspace project taken from the lock: its code is in the PEX as
  // sources, not as a distribution, so its entry point is set here (as pex's -c would find it).
  const own = o.script !== undefined ? firstParty.find((p) => o.script! in p.scripts) : undefined;
  const executable = own ? { entryPoint: own.scripts[o.script!]!.replace(/\s*\[[^\]]*\]\s*$/, '').trim(), script: undefined } : {};
  const result = await writePex(path, {
    ...writerOptions(o),
    ...executable,
    runtime,
    dependencies,
    sources,
    requirements: rootRequirements,
    shebang: o.shebang ?? `#!/usr/bin/env python${major}.${minor}`,
  });
  log(`wrote ${relative(process.cwd(), path) || path} (${(result.bytes / 1e6).toFixed(1)} MB, ${dependencies.length} wheels)`);
  await store.release();
  return {
    script: o.script ?? o.entryPoint ?? '',
    path,
    bytes: result.bytes,
    pexHash: result.pexHash,
    target: target.id,
    wheels: dependencies.length,
  };
}
