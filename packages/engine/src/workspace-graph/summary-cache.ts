/**
 * What the graph takes from a uv.lock (each project's third-party packages, the workspace edges,
 * the sha256 of each project's generated pylock.toml), kept across processes in one JSON file by
 * the lock's content hash: an unchanged multi-megabyte uv.lock is hashed, never parsed, by a
 * fresh process. The caller says where the file lives (the Nx plugin keeps it in Nx's workspace
 * data directory) and which version of nx-pex wrote it (another version starts empty).
 *
 * The file holds hashes, names, versions and whatever else callers key on (no file contents, no
 * credentials) and is written atomically; a missing or damaged file is the same as an empty one.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Bumped whenever what is kept, or the text nx-pex generates, changes shape. */
const FORMAT = 'nx-pex-lock-cache-1';
/** Entries beyond this many are dropped, oldest first. */
export const SUMMARY_CACHE_MAX_ENTRIES = 5_000;

/** A key-value memory of lock summaries (what the graph functions of this folder read and write). */
export interface SummaryCache {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown): void;
}

export class LockSummaryCache implements SummaryCache {
  private entries: Map<string, unknown> | undefined;
  private dirty = false;

  /** `file`: the JSON file; `version`: the nx-pex version, part of what makes an entry valid. */
  constructor(
    readonly file: string,
    private readonly version: string,
  ) {}

  private load(): Map<string, unknown> {
    if (this.entries) return this.entries;
    this.entries = new Map();
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as { format?: string; version?: string; entries?: Array<[string, unknown]> };
      if (data.format === FORMAT && data.version === this.version && Array.isArray(data.entries)) this.entries = new Map(data.entries);
    } catch {
      // none yet, or unreadable: start empty
    }
    return this.entries;
  }

  get<T>(key: string): T | undefined {
    return this.load().get(key) as T | undefined;
  }

  /** Sets `key` (JSON-serialisable `value`), as the newest entry. */
  set(key: string, value: unknown): void {
    const entries = this.load();
    entries.delete(key);
    entries.set(key, value);
    this.dirty = true;
  }

  /** Writes what changed (atomically); a read-only workspace keeps working without it. */
  flush(): void {
    if (!this.dirty || !this.entries) return;
    this.dirty = false;
    const list = [...this.entries];
    const kept = list.slice(Math.max(0, list.length - SUMMARY_CACHE_MAX_ENTRIES));
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      writeFileSync(tmp, JSON.stringify({ format: FORMAT, version: this.version, entries: kept }));
      renameSync(tmp, this.file);
    } catch {
      // not writable: the next run computes again
      try {
        rmSync(tmp, { force: true });
      } catch {
        // nothing was written
      }
    }
  }
}
