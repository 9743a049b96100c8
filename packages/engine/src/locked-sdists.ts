/**
 * Locked packages that have no wheel for the target but an sdist: the sdist (verified against the
 * lock's sha256) is built into a wheel once, as for requirements resolved without a lock.
 */
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { selectBestWheel, UserError, type TargetPlatform } from '@nx-pex/pep';
import { selectWheels, type Closure, type LockedArtifact, type LockedPackage } from '@nx-pex/lock';
import { fetchArtifacts, type ArtifactRequest } from '@nx-pex/store';
import { ForeignSdistError, foreignSdistMessage, newestWheelVersion, sdistBuilder, type WheelBuilder } from '@nx-pex/resolver';
import { lockedArtifactRequest, type IndexContext } from './pipeline';

export interface LockedSelection {
  wheels: Array<{ pkg: LockedPackage; wheel: LockedArtifact }>;
  /** Packages to build from their locked sdist. */
  sdists: LockedPackage[];
}

/** The best wheel of each locked package for the target, or its sdist when no wheel fits. */
export function selectLockedFiles(closure: Closure, target: TargetPlatform, lockFile: string): LockedSelection {
  const sdists = closure.thirdParty.filter((p) => p.sdist && !selectBestWheel(p.wheels, target));
  const rest: Closure = { ...closure, thirdParty: closure.thirdParty.filter((p) => !sdists.includes(p)) };
  return { wheels: selectWheels(rest, target, lockFile), sdists };
}

export interface LockedBuildOptions {
  python: string;
  target: TargetPlatform;
  lockFile: string;
  env: NodeJS.ProcessEnv;
  offline?: boolean;
  log?: (line: string) => void;
}

/** The store requests of a selection: the wheels, and the wheels built from the sdists. */
export async function lockedArtifactRequests(sel: LockedSelection, ctx: IndexContext, o: LockedBuildOptions): Promise<ArtifactRequest[]> {
  const out = sel.wheels.map(lockedArtifactRequest);
  if (sel.sdists.length === 0) return out;
  const build = sdistBuilder({ python: o.python, target: o.target, store: ctx.store, env: o.env, index: ctx.config, log: o.log });
  for (const pkg of sel.sdists) {
    const sdist = pkg.sdist!;
    const at = pkg.line !== undefined ? `${o.lockFile}:${pkg.line}` : o.lockFile;
    await refuseForeignSdist(pkg, build, ctx, o);
    if (!sdist.sha256) {
      throw new UserError(`${at}: the sdist ${sdist.filename} of ${pkg.name} has no sha256 in the lock, so nx-pex cannot verify it before building it. Re-lock with hashes.`);
    }
    const url = sdist.path !== undefined ? pathToFileURL(resolve(dirname(o.lockFile), sdist.path)).href : sdist.url;
    const request: ArtifactRequest = { project: pkg.name, version: pkg.version ?? '', filename: sdist.filename, sha256: sdist.sha256, size: sdist.size, url };
    if (pkg.source.kind === 'registry') request.registry = pkg.source.url;
    const paths = await fetchArtifacts([request], { store: ctx.store, client: ctx.client, config: ctx.config, log: o.log, offline: o.offline });
    const built = await build({ kind: 'sdist', path: paths.get(sdist.sha256.toLowerCase())!, filename: sdist.filename, name: pkg.name, sha256: sdist.sha256, url: url ?? sdist.filename });
    out.push({ project: pkg.name, version: pkg.version ?? '', filename: built.filename, sha256: built.sha256, size: built.size, url: pathToFileURL(built.path).href });
  }
  return out;
}

/** A target this machine's interpreter cannot build for: stop, before downloading anything, naming the newest version with a wheel. */
async function refuseForeignSdist(pkg: LockedPackage, build: WheelBuilder, ctx: IndexContext, o: LockedBuildOptions): Promise<void> {
  const why = await build.foreignReason?.();
  if (!why) return;
  const at = pkg.line !== undefined ? `${o.lockFile}:${pkg.line}` : o.lockFile;
  const files = o.offline ? [] : await ctx.client.projectFiles(pkg.name).catch(() => []);
  throw new ForeignSdistError(`${at}: ${foreignSdistMessage(pkg.name, pkg.version, pkg.sdist!.filename, o.target, why, newestWheelVersion(files, pkg.name, o.target))}`);
}

/** Before anything is fetched or built for any target: every locked sdist to build is for a target this machine can build for. */
export async function checkLockedSdistsBuildable(items: Array<{ selection: LockedSelection; options: LockedBuildOptions }>, ctx: IndexContext): Promise<void> {
  for (const { selection, options: o } of items) {
    if (selection.sdists.length === 0) continue;
    const build = sdistBuilder({ python: o.python, target: o.target, store: ctx.store, env: o.env, index: ctx.config, log: o.log });
    for (const pkg of selection.sdists) await refuseForeignSdist(pkg, build, ctx, o);
  }
}

/** Target indexes, those whose builder cannot build for its target first (in order), then the rest (in order). */
export async function foreignTargetsFirst(builders: readonly WheelBuilder[]): Promise<number[]> {
  const foreign = await Promise.all(builders.map((b) => b.foreignReason?.() ?? Promise.resolve(undefined)));
  const idx = builders.map((_, i) => i);
  return [...idx.filter((i) => foreign[i] !== undefined), ...idx.filter((i) => foreign[i] === undefined)];
}
