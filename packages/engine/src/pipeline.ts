/**
 * The steps every build shares, whatever says what goes in: the target platform, the wheels a
 * lock names, first-party sources, index settings, the wheel store, the pex runtime and fetching.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { probeInterpreterCached } from '@nx-pex/interpreter';
import { abbreviatedPlatform, completePlatform, targetFromInterpreter, UserError, type TargetPlatform } from '@nx-pex/pep';
import { readPyproject, type PyProject, type SourceFile } from '@nx-pex/project';
import type { LockedPackage, RequirementsFile } from '@nx-pex/lock';
import { IndexClient, readIndexConfig, type IndexConfig } from '@nx-pex/index';
import { WheelStore, fetchArtifacts, type ArtifactRequest, type MetadataCache } from '@nx-pex/store';
import type { PexDependency, PexRuntime } from '@nx-pex/pex';
import { buildFirstParty, type FirstPartyBuild, type FirstPartyOptions } from './first-party';
import type { Selection } from './selection';
import { shippedPexWheel } from './shipped-runtime';
import { applyIndexOverrides } from './index-overrides';
import { chooseRuntime, runtimeFromWheel, type RuntimeChoice } from './runtime';
import type { BuildContext } from './context';
import type { FetchedCheck, LockSource } from './lock-source';
import { applyRequirementsFileIndexes } from './hashed';
import { indexCaches } from './index-cache';

const targets = new Map<string, Promise<TargetPlatform>>();

/**
 * The platform an interpreter stands for, probed once per process; the probe's answer is kept in
 * `<store root>/interpreters/` for later processes while the interpreter file is unchanged.
 */
export function targetFor(python: string, ctx: Pick<BuildContext, 'storeRoot' | 'env'>): Promise<TargetPlatform> {
  let t = targets.get(python);
  if (!t) {
    const cacheDir = join(ctx.storeRoot, 'interpreters');
    t = probeInterpreterCached(python, { cacheDir, env: ctx.env }).then(targetFromInterpreter);
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
}

/**
 * The platforms a build targets, as pex takes them: the interpreter when one is named (`python`),
 * then each abbreviated and complete platform given (in that order, without repeats); with
 * neither, the local `python3`.
 */
export async function targetsFor(o: TargetOptions, ctx: Pick<BuildContext, 'storeRoot' | 'env'>): Promise<TargetPlatform[]> {
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
  if (given.length === 0 || o.python !== undefined) given.unshift(await targetFor(o.python ?? 'python3', ctx));
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

/** The pyproject.toml of each workspace project (a lock package with a path source). */
export async function lockedProjects(packages: readonly LockedPackage[], lockFile: string): Promise<PyProject[]> {
  const paths = packages.flatMap((pkg) => ('path' in pkg.source ? [join(dirname(lockFile), pkg.source.path, 'pyproject.toml')] : []));
  return Promise.all(paths.map(readPyproject));
}

/**
 * The first-party part of a PEX: each project's files at their PEX paths with its `.dist-info`,
 * and `-D` directories, as PEX sources; in the wheel form (and for projects whose layout only
 * their backend knows), the wheels their backends build, fetched with the rest.
 */
export function buildSources(projects: readonly PyProject[], dirs: readonly string[], o: FirstPartyOptions): Promise<FirstPartyBuild> {
  return buildFirstParty(projects, dirs, o);
}

/** How a build's first-party projects go in: the form, and the interpreter whose backend builds them. */
export interface FirstPartyRequest {
  form?: FirstPartyOptions['form'];
  python?: string;
  target: TargetPlatform;
  projectRoot: string;
}

/**
 * A selection with the PEX sources of its first-party projects (with their `.dist-info`) and of
 * `-D` directories; projects that go in as wheels their backends build join the artifacts and the
 * requirements. Checked before anything is fetched.
 */
export async function withSources(
  selection: Selection,
  dirs: readonly string[] | undefined,
  r: FirstPartyRequest,
  index: IndexContext,
  ctx: BuildContext,
): Promise<Selection & { sources: SourceFile[] }> {
  const fp = await buildSources(selection.firstParty, dirs ?? [], { ...r, storeDir: ctx.storeRoot, indexes: ctx.indexes, log: ctx.log, env: ctx.env });
  const wheels = await fp.wheels(index);
  if (wheels.length === 0 && fp.requirements.length === 0) return { ...selection, sources: fp.sources };
  return {
    ...selection,
    artifacts: [...selection.artifacts, ...wheels],
    requirements: [...new Set([...selection.requirements, ...fp.requirements])].sort(),
    sources: fp.sources,
  };
}

export interface FetchOptions {
  /** Every target of the build; the pex runtime's wheel is chosen for the first, the shebang fits them all. */
  targets: readonly TargetPlatform[];
  /** Directory whose `uv.toml` / `pyproject.toml` index settings apply. */
  projectRoot: string;
  /** Requirements files whose index lines join the configured index settings (before the context's `indexes`). */
  requirementsFiles?: readonly RequirementsFile[];
  pexVersion?: string;
}

/** How the files a source selects are fetched: with its index settings, for these targets and pex runtime. */
export function fetchOptionsFor(source: Pick<LockSource, 'projectRoot' | 'requirementsFiles'>, targets: readonly TargetPlatform[], pexVersion: string | undefined): FetchOptions {
  return { targets, projectRoot: source.projectRoot, requirementsFiles: source.requirementsFiles, pexVersion };
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
 * Opens the store and the indexes, lets `select` say which files go in (a lock source's
 * selection), fetches them and the pex runtime into the store, then calls `write` with them
 * while the store holds them.
 */
export async function withFetchedInputs<S extends { artifacts: ArtifactRequest[]; afterFetch?: FetchedCheck[] }, T>(
  o: FetchOptions,
  ctx: BuildContext,
  select: (index: IndexContext) => Promise<S>,
  write: (inputs: FetchedInputs, selection: S) => Promise<T>,
): Promise<T> {
  const { env } = ctx;
  const config = applyIndexOverrides(applyRequirementsFileIndexes(await readIndexConfig({ env, projectRoot: o.projectRoot }), o.requirementsFiles ?? []), ctx.indexes);
  const store = new WheelStore(ctx.storeRoot);
  const { httpCache, metadataCache } = indexCaches(store.root, ctx.disableCache, env);
  const client = new IndexClient(config, { env, httpCache });
  try {
    let selection: S;
    let fetched: { paths: Map<string, string>; choice: RuntimeChoice };
    try {
      selection = await select({ client, config, store, metadataCache });
      fetched = await fetchWithRuntime(selection.artifacts, o, { client, config, store }, ctx);
    } finally {
      await client.close();
    }
    const { paths, choice } = fetched;
    // fetchArtifacts keys its answer by lower-case sha256.
    const pathOf = (sha256: string) => paths.get(sha256.toLowerCase())!;
    for (const check of selection.afterFetch ?? []) await check((sha256) => paths.get(sha256.toLowerCase()));
    const runtime = await runtimeFromWheel(pathOf(choice.request.sha256), choice.version, {
      cacheDir: join(store.root, 'runtimes'),
      sha256: choice.request.sha256,
    });
    // Store files were verified against their sha256 when they entered the store, and checked
    // unchanged since (size and identity) just now; the writer checks the identity again as it
    // opens each one and hashes any file that differs. The same file wanted for several targets
    // goes in once.
    const unique = new Map(selection.artifacts.map((r) => [r.sha256.toLowerCase(), r]));
    const dependencies = [...unique.values()].map((r) => ({
      filename: r.filename,
      sha256: r.sha256,
      path: pathOf(r.sha256),
      trusted: true,
      size: r.size,
      identity: store.identityOf(r.sha256),
    }));
    return await write({ runtime, dependencies, shebang: shebangFor(o.targets), store, storeRoot: store.root }, selection);
  } finally {
    await store.release();
  }
}

/** Fetches `requests` and the chosen pex runtime's wheel into the store: their paths by lower-case sha256. */
async function fetchWithRuntime(
  requests: ArtifactRequest[],
  o: FetchOptions,
  index: Omit<IndexContext, 'metadataCache'>,
  ctx: BuildContext,
): Promise<{ paths: Map<string, string>; choice: RuntimeChoice }> {
  const { client, config, store } = index;
  const log = ctx.logging ? ctx.log : undefined;
  const choice = await chooseRuntime(o.pexVersion, { client, store, target: o.targets[0]!, log, localWheel: ctx.pexWheel ?? shippedPexWheel() });
  const fetchOptions = { store, client, config, log, offline: ctx.offline, progress: ctx.progress };
  if (!choice.local) return { paths: await fetchArtifacts([...requests, choice.request], fetchOptions), choice };
  // The shipped wheel is copied into the store (verified like any download), never looked up on
  // an index, so air-gapped and offline builds have their runtime.
  const local = { ...config, indexUrl: '', extraIndexUrls: [], findLinks: [], noIndex: true };
  const paths = new Map([
    ...(await fetchArtifacts(requests, fetchOptions)),
    ...(await fetchArtifacts([choice.request], { ...fetchOptions, config: local, offline: false })),
  ]);
  return { paths, choice };
}
