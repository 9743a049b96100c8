/**
 * The settings every step of a build shares, whatever is built: where the wheel store is, the
 * environment, where log lines and download progress go, offline and cache switches, the local
 * pex wheel and the index flags. The CLI or the Nx executor builds one per command and passes it
 * down; the engine's functions take it beside their own options.
 */
import { resolve } from 'node:path';
import { defaultStoreRoot, lineProgress, offlineFromEnv, type ProgressReporter } from '@nx-pex/store';
import type { IndexOverrides } from './index-overrides';

export interface BuildContext {
  /** The environment (index and store variables, NX_PEX_OFFLINE, …); default `process.env`. */
  readonly env: NodeJS.ProcessEnv;
  /** The wheel store's root directory (absolute). */
  readonly storeRoot: string;
  /** One line per event; a no-op when the caller gave none. */
  readonly log: (line: string) => void;
  /** Whether the caller gave a log (download progress and resolver chatter go nowhere otherwise). */
  readonly logging: boolean;
  /** Download progress; default one line per downloaded file through `log`, none without a log. */
  readonly progress?: ProgressReporter;
  /** Take wheels from the store only (also `NX_PEX_OFFLINE=1`). */
  readonly offline: boolean;
  /** Do not read or keep index pages and metadata in the store (also NX_PEX_DISABLE_CACHE=1). */
  readonly disableCache?: boolean;
  /** A local copy of the pinned pex wheel, whose runtime is taken without any index. */
  readonly pexWheel?: string;
  /** pex's index flags (`--index-url`, `--find-links`, `--no-pypi`) over pip's configuration. */
  readonly indexes?: IndexOverrides;
}

/** What a caller may set; everything else takes its default. */
export interface BuildContextInit {
  env?: NodeJS.ProcessEnv;
  /** Wheel store directory; default `defaultStoreRoot(env)` (NX_PEX_STORE, else the user cache). */
  storeDir?: string;
  log?: (line: string) => void;
  progress?: ProgressReporter;
  offline?: boolean;
  disableCache?: boolean;
  pexWheel?: string;
  indexes?: IndexOverrides;
}

/** A context with every default filled in; built once per command. */
export function createContext(init: BuildContextInit = {}): BuildContext {
  const env = init.env ?? process.env;
  const log = init.log;
  return Object.freeze({
    env,
    storeRoot: resolve(init.storeDir ?? defaultStoreRoot(env)),
    log: log ?? (() => undefined),
    logging: log !== undefined,
    progress: init.progress ?? (log ? lineProgress(log) : undefined),
    offline: init.offline ?? offlineFromEnv(env),
    disableCache: init.disableCache,
    pexWheel: init.pexWheel,
    indexes: init.indexes,
  });
}

/** The context's log as an optional callback (for steps that stay silent without one). */
export function optionalLog(ctx: BuildContext): ((line: string) => void) | undefined {
  return ctx.logging ? ctx.log : undefined;
}
