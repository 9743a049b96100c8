/**
 * The lock summaries of the graph and the sync generator (`LockSummaryCache`), and each project's
 * nodes by the hash of what they are made from, kept across processes in Nx's workspace data
 * directory (`.nx/workspace-data`, or `NX_WORKSPACE_DATA_DIRECTORY`): without the daemon every Nx
 * command starts a fresh process, and with this file an unchanged uv.lock is hashed, never
 * parsed, and an unchanged project is skipped by comparing hashes.
 */
import { isAbsolute, join } from 'node:path';
import { LockSummaryCache } from '@nx-pex/engine';

function pluginVersion(): string {
  try {
    return (require('nx-pex/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const caches = new Map<string, LockSummaryCache>();

/** The lock cache of a workspace (one per process). */
export function lockCache(workspaceRoot: string): LockSummaryCache {
  let c = caches.get(workspaceRoot);
  if (!c) {
    const dataDir = process.env.NX_WORKSPACE_DATA_DIRECTORY;
    const dir = dataDir ? (isAbsolute(dataDir) ? dataDir : join(workspaceRoot, dataDir)) : join(workspaceRoot, '.nx', 'workspace-data');
    caches.set(workspaceRoot, (c = new LockSummaryCache(join(dir, 'nx-pex-locks.json'), pluginVersion())));
  }
  return c;
}
