/**
 * The steps every build shares, whatever says what goes in: the target platform, the wheels a
 * lock names, first-party sources, index settings, the wheel store, the pex runtime and fetching.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { probeInterpreterCached } from '@nx-pex/interpreter';
import { abbreviatedPlatform, completePlatform, targetFromInterpreter, UserError, type TargetPlatform } from '@nx-pex/pep';
import { collectSources, mergeSources, readPyproject, type PyProject } from '@nx-pex/project';
import type { LockedArtifact, LockedPackage, RequirementsFile } from '@nx-pex/lock';
import { IndexClient, readIndexConfig, type IndexConfig } from '@nx-pex/index';
import {
  WheelStore,
  defaultStoreRoot,
  fetchArtifacts,
  lineProgress,
  offlineFromEnv,
  type ArtifactRequest,
  type MetadataCache,
  type ProgressReporter,
} from '@nx-pex/store';
import type { PexDependency, PexRuntime } from '@nx-pex/pex';
import { combineSources, directorySources } from './options';
import { shippedPexWheel } from './shipped-runtime';
import { applyIndexOverrides, type IndexOverrides } from './index-overrides';
import { chooseRuntime, runtimeFromWheel } from './runtime';
import { applyRequirementsFileIndexes } from './hashed';
import { indexCaches } from './index-cache';

const targets = new Map<string, Promise<TargetPlatform>>();

/** The wheel store's root directory: the `storeDir` option, else the default for `env`. */
function storeRoot(storeDir: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(storeDir ?? defaultStoreRoot(env));
}

/**
 * The platform an interpreter stands for, probed once per process; the probe's answer is kept in
 * `<store root>/interpreters/` for later processes while the interpreter file is unchanged.
 */
export function targetFor(python: string, o: { storeDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TargetPlatform> {
  let t = targets.get(python);
  if (!t) {
    const cacheDir = join(storeRoot(o.storeDir, o.env ?? process.env), 'interpreters');
    t = probeInterpreterCached(python, { cacheDir, env: o.env }).then(targetFromInterpreter);
    targets.set(python, t);
    t.catch(() => targets.delete(python));
  }
  return t;
}

export interface TargetOptions {
  /** Interpreter whose version and platform the PEX targets, when no platform is given; default `python3`. */
  python?: string;
  /** pex's abbreviated platforms (`--platform`). */
  platforms?: readonly string[];
  /** pex's complete platforms (`--complete-platform`): JSON objects, or paths of files holding one. */
  completePlatforms?: readonly string[];
  storeDir?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The platforms a build targets, as pex takes them: the interpreter when one is named (`python`),
 * then each abbreviated and complete platform given (in that order, without repeats); with
 * neither, the local `python3`.
 */
export async function targetsFor(o: TargetOptions): Promise<TargetPlatform[]> {
  const given = [...(o.platforms ?? []).map(abbreviatedPlatform)];
  for (const value of o.completePlatforms ?? []) {
    if (value.trim().startsWith('{')) {
      given.push(completePlatform(value, 'given as JSON'));
      continue;
    }
    let text: string;
    try {
      text = await readFile(value, 'utf8');
    } catch (e) {
      throw new UserError(
        `Cannot read the complete platform file ${value} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). ` +
          'Give a JSON file made by `pex3 interpreter inspect --markers --tags` on the target machine, or the JSON itself.',
      );
    }
    given.push(completePlatform(text, value));
  }
  if (given.length === 0 || o.python !== undefined) given.unshift(await targetFor(o.python ?? 'python3', { storeDir: o.storeDir, env: o.env }));
  const seen = new Set<string>();
  return given.filter((t) => !seen.has(t.id) && seen.add(t.id));
}

/** How targets are named in log lines: the interpreter, or the platforms. */
export function describeTargets(targets: readonly TargetPlatform[], python: string | undefined): string {
  if (targets.length === 1 && !targets[0]!.platform) return `target ${targets[0]!.id} (${python ?? 'python3'})`;
  const named = targets.map((t) => (t.platform ? t.id : `${t.id} (${python ?? 'python3'})`));
  return `${targets.length === 1 ? 'platform' : 'platforms'} ${named.join(', ')}`;
}

/** pex's shebang for a set of targets: `pythonX.Y` when they share one Python version, else `python3`. */
export function shebangFor(targets: readonly TargetPlatform[]): string {
  const versions = new Set(targets.map((t) => t.pythonVersion.split('.').slice(0, 2).join('.')));
  return versions.size === 1 ? `#!/usr/bin/env python${[...versions][0]}` : '#!/usr/bin/env python3';
}

/** `module:function [extras]` → `module:function`. */
export function entryPointOf(spec: string): string {
  return spec.replace(/\s*\[[^\]]*\]\s*$/, '').trim();
}

/** What the store needs to fetch a wheel the lock names. */
export function lockedArtifactRequest({ pkg, wheel }: { pkg: LockedPackage; wheel: LockedArtifact }): ArtifactRequest {
  return {
    project: pkg.name,
    version: pkg.version ?? '',
    filename: wheel.filename,
    sha256: wheel.sha256,
    size: wheel.size,
    url: wheel.url,
    registry: pkg.source.kind === 'registry' ? pkg.source.url : undefined,
  };
}

/** The pyproject.toml of each workspace project (a lock package with a path source). */
export async function lockedProjects(packages: readonly LockedPackage[], lockFile: string): Promise<PyProject[]> {
  const paths = packages.flatMap((pkg) => ('path' in pkg.source ? [join(dirname(lockFile), pkg.source.path, 'pyproject.toml')] : []));
  return Promise.all(paths.map(readPyproject));
}

/** The files of first-party projects' packages and of `-D` directories, as one list of PEX sources. */
export async function buildSources(projects: readonly PyProject[], dirs: readonly string[]) {
  return combineSources(
    mergeSources(await Promise.all(projects.map(async (p) => ({ project: p, files: await collectSources(p) })))),
    await directorySources(dirs),
  );
}

export interface FetchOptions {
  /** The first target (the pex runtime's wheel is chosen for it). */
  target: TargetPlatform;
  /** Every target of the build, when several (the shebang fits them all). */
  targets?: readonly TargetPlatform[];
  /** Directory whose `uv.toml` / `pyproject.toml` index settings apply. */
  projectRoot: string;
  indexes?: IndexOverrides;
  /** Requirements files whose index lines join the configured index settings (before `indexes`). */
  requirementsFiles?: readonly RequirementsFile[];
  storeDir?: string;
  pexVersion?: string;
  /** A local copy of the pinned pex wheel; the pinned runtime is taken from it without any index. */
  pexWheel?: string;
  offline?: boolean;
  /** Do not read or keep index pages and metadata in the store (`--disable-cache`; also NX_PEX_DISABLE_CACHE=1). */
  disableCache?: boolean;
  progress?: ProgressReporter;
  log?: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

/** What the wheel requests are worked out with (pinned requirements are looked up on the indexes). */
export interface IndexContext {
  client: IndexClient;
  config: IndexConfig;
  store: WheelStore;
  /** Core metadata kept in the store (none with --disable-cache). */
  metadataCache?: MetadataCache;
}

/** The parts of a PEX that come from the store, and the interpreter line for the target. */
export interface FetchedInputs {
  runtime: PexRuntime;
  dependencies: PexDependency[];
  shebang: string;
  /** The store the inputs lie in, held until `write` returns. */
  store: WheelStore;
  /** The wheel store's root (its `tmp/` holds temporary outputs). */
  storeRoot: string;
}

/**
 * Fetches the wheels `collect` asks for and the pex runtime into the store, then calls `write`
 * with them while the store holds them.
 */
export async function withFetchedInputs<T>(
  o: FetchOptions,
  collect: (ctx: IndexContext) => Promise<ArtifactRequest[]>,
  write: (inputs: FetchedInputs) => Promise<T>,
): Promise<T> {
  const { env, target, log } = o;
  const config = applyIndexOverrides(applyRequirementsFileIndexes(await readIndexConfig({ env, projectRoot: o.projectRoot }), o.requirementsFiles ?? []), o.indexes);
  const store = new WheelStore(storeRoot(o.storeDir, env));
  const { httpCache, metadataCache } = indexCaches(store.root, o.disableCache, env);
  const client = new IndexClient(config, { env, httpCache });
  try {
    let requests: ArtifactRequest[];
    let choice;
    let paths: Map<string, string>;
    try {
      requests = await collect({ client, config, store, metadataCache });
      choice = await chooseRuntime(o.pexVersion, { client, store, target, log, localWheel: o.pexWheel ?? shippedPexWheel() });
      const fetchOptions = {
        store,
        client,
        config,
        log,
        offline: o.offline ?? offlineFromEnv(env),
        progress: o.progress ?? (log ? lineProgress(log) : undefined),
      };
      if (choice.local) {
        // The shipped wheel is copied into the store (verified like any download), never looked
        // up on an index, so air-gapped and offline builds have their runtime.
        const local = { ...config, indexUrl: '', extraIndexUrls: [], findLinks: [], noIndex: true };
        paths = new Map([
          ...(await fetchArtifacts(requests, fetchOptions)),
          ...(await fetchArtifacts([choice.request], { ...fetchOptions, config: local, offline: false })),
        ]);
      } else {
        paths = await fetchArtifacts([...requests, choice.request], fetchOptions);
      }
    } finally {
      await client.close();
    }
    // fetchArtifacts keys its answer by lower-case sha256.
    const pathOf = (sha256: string) => paths.get(sha256.toLowerCase())!;
    const runtime = await runtimeFromWheel(pathOf(choice.request.sha256), choice.version, {
      cacheDir: join(store.root, 'runtimes'),
      sha256: choice.request.sha256,
    });
    // Store files were verified against their sha256 when they entered the store, and checked
    // unchanged since (size and identity) just now; the writer checks the identity again as it
    // opens each one and hashes any file that differs. The same file wanted for several targets
    // goes in once.
    const unique = new Map(requests.map((r) => [r.sha256.toLowerCase(), r]));
    const dependencies = [...unique.values()].map((r) => ({
      filename: r.filename,
      sha256: r.sha256,
      path: pathOf(r.sha256),
      trusted: true,
      size: r.size,
      identity: store.identityOf(r.sha256),
    }));
    return await write({ runtime, dependencies, shebang: shebangFor(o.targets ?? [target]), store, storeRoot: store.root });
  } finally {
    await store.release();
  }
}
