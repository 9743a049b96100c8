/**
 * The files a lock names for a target: the best wheel of each locked package, or, when no wheel
 * fits but the lock has an sdist, that sdist (verified against the lock's sha256) built into a
 * wheel once, as for requirements resolved without a lock.
 */
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { selectBestWheel, UserError, type TargetPlatform } from '@nx-pex/pep';
import { selectWheels, type Closure, type LockedArtifact, type LockedPackage } from '@nx-pex/lock';
import { fetchArtifacts, type ArtifactRequest } from '@nx-pex/store';
import { sdistBuilder } from '@nx-pex/resolver';
import type { BuildContext } from './context';
import { withFileUrl } from './locks';
import type { IndexContext } from './pipeline';

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

/** What the store needs to fetch a wheel the lock names (a file given by path, from a file: URL). */
export function lockedArtifactRequest({ pkg, wheel }: { pkg: LockedPackage; wheel: LockedArtifact }, lockFile: string): ArtifactRequest {
  const w = withFileUrl(wheel, lockFile);
  return {
    project: pkg.name,
    version: pkg.version ?? '',
    filename: w.filename,
    sha256: w.sha256,
    size: w.size,
    url: w.url,
    registry: pkg.source.kind === 'registry' ? pkg.source.url : undefined,
  };
}

export interface SdistBuild {
  lockFile: string;
  target: TargetPlatform;
  /** The interpreter that builds them. */
  python: string;
}

/** Fetches each locked sdist and builds it into a wheel for the target: their store requests. */
export async function buildLockedSdists(sdists: readonly LockedPackage[], o: SdistBuild, index: IndexContext, ctx: BuildContext): Promise<ArtifactRequest[]> {
  const log = ctx.logging ? ctx.log : undefined;
  const build = sdistBuilder({ python: o.python, target: o.target, store: index.store, env: ctx.env, index: index.config, log });
  const out: ArtifactRequest[] = [];
  for (const pkg of sdists) {
    const sdist = pkg.sdist!;
    const at = pkg.line !== undefined ? `${o.lockFile}:${pkg.line}` : o.lockFile;
    if (!sdist.sha256) {
      throw new UserError(`${at}: the sdist ${sdist.filename} of ${pkg.name} has no sha256 in the lock, so nx-pex cannot verify it before building it. Re-lock with hashes.`);
    }
    const url = sdist.path !== undefined ? pathToFileURL(resolve(dirname(o.lockFile), sdist.path)).href : sdist.url;
    const request: ArtifactRequest = { project: pkg.name, version: pkg.version ?? '', filename: sdist.filename, sha256: sdist.sha256, size: sdist.size, url };
    if (pkg.source.kind === 'registry') request.registry = pkg.source.url;
    const paths = await fetchArtifacts([request], { store: index.store, client: index.client, config: index.config, log, offline: ctx.offline });
    const built = await build({ kind: 'sdist', path: paths.get(sdist.sha256.toLowerCase())!, filename: sdist.filename, name: pkg.name, sha256: sdist.sha256, url: url ?? sdist.filename });
    out.push({ project: pkg.name, version: pkg.version ?? '', filename: built.filename, sha256: built.sha256, size: built.size, url: pathToFileURL(built.path).href });
  }
  return out;
}
