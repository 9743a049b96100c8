/**
 * The steps every build shares, whatever says what goes in: the target platform, the wheels a
 * lock names, first-party sources, index settings, the wheel store, the pex runtime and fetching.
 */
import { dirname, join, resolve } from 'node:path';
import { probeInterpreterCached, targetFromInterpreter, type TargetPlatform } from '@nx-pex/pep';
import { collectSources, mergeSources, readPyproject, type PyProject } from '@nx-pex/project';
import type { LockedArtifact, LockedPackage } from '@nx-pex/lock';
import { IndexClient, readIndexConfig, type IndexConfig } from '@nx-pex/index';
import {
  WheelStore,
  defaultStoreRoot,
  fetchArtifacts,
  lineProgress,
  offlineFromEnv,
  type ArtifactRequest,
  type ProgressReporter,
} from '@nx-pex/store';
import type { PexDependency, PexRuntime } from '@nx-pex/pex';
import { combineSources, directorySources } from './options';
import { applyIndexOverrides, chooseRuntime, runtimeFromWheel, type IndexOverrides } from './runtime';

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
  const out: PyProject[] = [];
  for (const pkg of packages) {
    if ('path' in pkg.source) out.push(await readPyproject(join(dirname(lockFile), pkg.source.path, 'pyproject.toml')));
  }
  return out;
}

/** The files of first-party projects' packages and of `-D` directories, as one list of PEX sources. */
export async function buildSources(projects: readonly PyProject[], dirs: readonly string[]) {
  return combineSources(
    mergeSources(await Promise.all(projects.map(async (p) => ({ project: p, files: await collectSources(p) })))),
    await directorySources(dirs),
  );
}

export interface FetchOptions {
  target: TargetPlatform;
  /** Directory whose `uv.toml` / `pyproject.toml` index settings apply. */
  projectRoot: string;
  indexes?: IndexOverrides;
  storeDir?: string;
  pexVersion?: string;
  /** A local copy of the pinned pex wheel; the pinned runtime is taken from it without any index. */
  pexWheel?: string;
  offline?: boolean;
  progress?: ProgressReporter;
  log?: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

/** What the wheel requests are worked out with (pinned requirements are looked up on the indexes). */
export interface IndexContext {
  client: IndexClient;
  config: IndexConfig;
  store: WheelStore;
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
  const config = applyIndexOverrides(await readIndexConfig({ env, projectRoot: o.projectRoot }), o.indexes);
  const client = new IndexClient(config, { env });
  const store = new WheelStore(storeRoot(o.storeDir, env));
  try {
    let requests: ArtifactRequest[];
    let choice;
    let paths: Map<string, string>;
    try {
      requests = await collect({ client, config, store });
      choice = await chooseRuntime(o.pexVersion, { client, store, target, log, localWheel: o.pexWheel });
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
    // opens each one and hashes any file that differs.
    const dependencies = requests.map((r) => ({
      filename: r.filename,
      sha256: r.sha256,
      path: pathOf(r.sha256),
      trusted: true,
      size: r.size,
      identity: store.identityOf(r.sha256),
    }));
    const [major, minor] = target.pythonVersion.split('.');
    return await write({ runtime, dependencies, shebang: `#!/usr/bin/env python${major}.${minor}`, store, storeRoot: store.root });
  } finally {
    await store.release();
  }
}
