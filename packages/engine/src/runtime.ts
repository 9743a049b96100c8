/** The pex runtime a build embeds: the pinned one (shipped with nx-pex, or from the index) or another version from the index. */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { UserError, type TargetPlatform } from '@nx-pex/pep';
import type { IndexClient } from '@nx-pex/index';
import type { ArtifactRequest, WheelStore } from '@nx-pex/store';
import { PINNED_PEX, loadRuntime, type PexRuntime } from '@nx-pex/pex';
import { artifactRequest, pickWheel } from './pinned';
import { shippedPexWheel } from './shipped-runtime';

export interface RuntimeChoice {
  version: string;
  request: ArtifactRequest;
  /** The request's URL is a local copy of the pinned wheel, to be taken without any index. */
  local?: boolean;
}

/**
 * The pex wheel to take the runtime from: the pinned one, or `pex==<version>` from the configured
 * indexes (the wheel for the target's Python, verified against the index's sha256).
 */
export async function chooseRuntime(
  version: string | undefined,
  ctx: { client: IndexClient; store: WheelStore; target: TargetPlatform; log?: (line: string) => void; localWheel?: string },
): Promise<RuntimeChoice> {
  if (version === undefined || version === PINNED_PEX.version) {
    const request: ArtifactRequest = { project: 'pex', version: PINNED_PEX.version, filename: PINNED_PEX.filename, sha256: PINNED_PEX.sha256 };
    if (ctx.localWheel && existsSync(ctx.localWheel)) {
      const shipped = shippedPexWheel();
      const origin = shipped !== undefined && resolve(shipped) === resolve(ctx.localWheel) ? 'the nx-pex package' : 'a local copy of the pinned wheel';
      return { version: PINNED_PEX.version, request: { ...request, url: pathToFileURL(resolve(ctx.localWheel)).href, origin }, local: true };
    }
    return { version: PINNED_PEX.version, request };
  }
  try {
    const wheel = await pickWheel('pex', version, ctx.client, ctx.store, ctx.target, ctx.log);
    return { version, request: artifactRequest(wheel) };
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`pex runtime ${version} (pexVersion / --pex-version): ${e.message}`);
    throw e;
  }
}

const runtimes = new Map<string, Promise<PexRuntime>>();

/**
 * Loads (once per process) the runtime of a pex wheel; for a store file (verified, named by its
 * sha256), `store.cacheDir` keeps the prepared runtime between processes.
 */
export function runtimeFromWheel(path: string, version: string, store?: { cacheDir: string; sha256: string }): Promise<PexRuntime> {
  let r = runtimes.get(path);
  if (!r) {
    r = loadRuntime(path, { cacheDir: store?.cacheDir, sha256: store?.sha256 }).catch((e: unknown) => {
      if ((e instanceof UserError) && version !== PINNED_PEX.version) {
        throw new UserError(`pex runtime ${version} (pexVersion / --pex-version) cannot be embedded: ${(e as Error).message}`);
      }
      throw e;
    });
    runtimes.set(path, r);
    r.catch(() => runtimes.delete(path));
  }
  return r;
}
