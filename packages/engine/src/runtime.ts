/**
 * What every build shares: the pex runtime (pinned, or another version from the index), the
 * index settings given on the command line, and the output paths of PEX files and directories.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { UserError, type TargetPlatform } from '@nx-pex/pep';
import { DEFAULT_INDEX_URL, type IndexClient, type IndexConfig } from '@nx-pex/index';
import type { ArtifactRequest, WheelStore } from '@nx-pex/store';
import { PINNED_PEX, loadRuntime, type PexRuntime } from '@nx-pex/pex';
import { artifactRequest, pickWheel } from './pinned';
import { shippedPexWheel } from './shipped-runtime';

/** Index settings from pex's flags: `--index-url`, `--find-links`, `--no-pypi`. */
export interface IndexOverrides {
  /** `-i/--index-url` (repeatable): indexes used besides PyPI (instead of it with `noPypi`). */
  indexUrls?: string[];
  /** `-f/--find-links` (repeatable): added to the configured find-links. */
  findLinks?: string[];
  /** `--no-pypi`: leave PyPI out. */
  noPypi?: boolean;
}

const isUrl = (s: string) => /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s);

/**
 * pip's configuration with pex's index flags applied: given any of `--index-url` or
 * `--no-pypi`, the indexes are pex's (PyPI unless `--no-pypi`, then each `--index-url`) instead
 * of pip's; `--find-links` locations come first among the find-links.
 */
export function applyIndexOverrides(config: IndexConfig, o: IndexOverrides | undefined, cwd = process.cwd()): IndexConfig {
  if (!o) return config;
  const out: IndexConfig = { ...config };
  if (o.indexUrls?.length || o.noPypi) {
    const indexes = [...(o.noPypi ? [] : [DEFAULT_INDEX_URL]), ...(o.indexUrls ?? []).map((u) => (isUrl(u) ? u : pathToFileURL(resolve(cwd, u)).href))];
    out.indexUrl = indexes[0] ?? DEFAULT_INDEX_URL;
    out.extraIndexUrls = indexes.slice(1);
    out.noIndex = indexes.length === 0;
    if (o.noPypi) out.onlyConfiguredHosts = true;
  }
  if (o.findLinks?.length) {
    out.findLinks = [...o.findLinks.map((l) => (isUrl(l) ? l : resolve(cwd, l))), ...config.findLinks];
  }
  return out;
}

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
