/**
 * What the graph and the sync generator take from a uv.lock, kept across processes by the lock's
 * content hash: each project's third-party packages, the workspace edges and the sha256 of each
 * project's generated pylock.toml; and each project's nodes, by the hash of what they are made
 * from (the key createNodes already uses in memory). Without the daemon every Nx command starts
 * a fresh process; with this file an unchanged multi-megabyte uv.lock is hashed, never parsed,
 * and an unchanged project is skipped by comparing hashes.
 *
 * The file lives in Nx's workspace data directory (`.nx/workspace-data`, or
 * `NX_WORKSPACE_DATA_DIRECTORY`), holds hashes, names, versions and target configurations (no
 * file contents, no credentials), and is written atomically; a missing or damaged file is the
 * same as an empty one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { readCached } from './read-cache';

/** Bumped whenever what is kept, or the text nx-pex generates, changes shape. */
const FORMAT = 'nx-pex-lock-cache-1';
/** Entries beyond this many are dropped, oldest first. */
const MAX_ENTRIES = 5_000;

function pluginVersion(): string {
  try {
    return (require('nx-pex/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export class LockCache {
  private readonly file: string;
  private entries: Map<string, unknown> | undefined;
  private dirty = false;

  constructor(workspaceRoot: string) {
    const dataDir = process.env.NX_WORKSPACE_DATA_DIRECTORY;
    const dir = dataDir ? (isAbsolute(dataDir) ? dataDir : join(workspaceRoot, dataDir)) : join(workspaceRoot, '.nx', 'workspace-data');
    this.file = join(dir, 'nx-pex-locks.json');
  }

  private load(): Map<string, unknown> {
    if (this.entries) return this.entries;
    this.entries = new Map();
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as { format?: string; version?: string; entries?: Array<[string, unknown]> };
      if (data.format === FORMAT && data.version === pluginVersion() && Array.isArray(data.entries)) this.entries = new Map(data.entries);
    } catch {
      // none yet, or unreadable: start empty
    }
    return this.entries;
  }

  get<T>(key: string): T | undefined {
    return this.load().get(key) as T | undefined;
  }

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
    const kept = list.slice(Math.max(0, list.length - MAX_ENTRIES));
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      mkdirSync(join(this.file, '..'), { recursive: true });
      writeFileSync(tmp, JSON.stringify({ format: FORMAT, version: pluginVersion(), entries: kept }));
      renameSync(tmp, this.file);
    } catch {
      // not writable: the next run computes again
    }
  }
}

const caches = new Map<string, LockCache>();

/** The lock cache of a workspace (one per process). */
export function lockCache(workspaceRoot: string): LockCache {
  let c = caches.get(workspaceRoot);
  if (!c) caches.set(workspaceRoot, (c = new LockCache(workspaceRoot)));
  return c;
}

const textHashes = new Map<string, { text: string; sha: string }>();

/** sha256 of a text, remembered for the last text of each path. */
export function textSha(path: string, text: string): string {
  const hit = textHashes.get(path);
  if (hit && hit.text === text) return hit.sha;
  const sha = createHash('sha256').update(text).digest('hex');
  textHashes.set(path, { text, sha });
  return sha;
}

/** sha256 of the file at `path` (read once while it is unchanged), or undefined when it cannot be read. */
export function fileSha(path: string): string | undefined {
  const text = readCached(path);
  return text === undefined ? undefined : textSha(path, text);
}
