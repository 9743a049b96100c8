/**
 * The store's caches of index pages and core metadata, shared by every build and lock on the
 * machine; `--disable-cache` (pex's flag) or `NX_PEX_DISABLE_CACHE=1` turns them off for a run
 * (wheels still come from the store: they are verified by sha256 and cannot be stale).
 */
import { MetadataCache, StoreHttpCache } from '@nx-pex/store';

/** Whether the environment asks to skip the index cache (`NX_PEX_DISABLE_CACHE=1`, `true`, `yes` or `on`). */
export function cacheDisabledFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test((env.NX_PEX_DISABLE_CACHE ?? '').trim());
}

/** The caches under `storeRoot`, or none when disabled (the option, else the environment). */
export function indexCaches(
  storeRoot: string,
  disable: boolean | undefined,
  env: NodeJS.ProcessEnv,
): { httpCache?: StoreHttpCache; metadataCache?: MetadataCache } {
  if (disable ?? cacheDisabledFromEnv(env)) return {};
  return { httpCache: new StoreHttpCache(storeRoot), metadataCache: new MetadataCache(storeRoot) };
}
