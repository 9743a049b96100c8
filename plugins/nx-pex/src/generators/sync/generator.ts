/**
 * `nx-pex:sync`: writes each Python project's `pylock.toml` from the workspace's uv.lock, the
 * lock its build reads and hashes, and its `pylock.test.toml` when it has test groups (the lock
 * its tests run from). Registered on the build and test targets (`syncGenerators`), so
 * `nx build` / `nx affected` bring the files up to date and `nx sync:check` fails when one is
 * stale. Only files whose content changes are written; a pylock.toml nx-pex did not generate is
 * the user's own and is left alone.
 */
import { glob, readNxJson, type Tree } from '@nx/devkit';
import { syncProjectLocks as syncFiles, type SyncReport } from '@nx-pex/engine';

export type { SyncReport };

function pluginOptions(tree: Tree): Record<string, unknown> | undefined {
  const nxJson = readNxJson(tree);
  for (const p of nxJson?.plugins ?? []) {
    const name = typeof p === 'string' ? p : p.plugin;
    if (name === 'nx-pex') return typeof p === 'string' ? {} : ((p.options as Record<string, unknown>) ?? {});
  }
  return undefined;
}

/** Brings every Python project's pylock.toml in line with its uv.lock, in `tree`. */
export function syncProjectLocks(tree: Tree): SyncReport {
  if (pluginOptions(tree)?.lockPerProject === false) return { written: [], unchanged: [], userOwned: [], problems: [] };
  return syncFiles({
    read: (path) => tree.read(path, 'utf-8'),
    write: (path, text) => tree.write(path, text),
    exists: (path) => tree.exists(path),
    delete: (path) => tree.delete(path),
    pyprojects: () => glob(tree, ['**/pyproject.toml']),
  });
}

/**
 * The sync generator. Projects it cannot write a lock for (a pyproject.toml that does not parse, a
 * project the uv.lock does not cover) are left to their build, which fails with the precise
 * message; they never make the whole workspace out of sync.
 */
export default async function syncGenerator(tree: Tree) {
  const report = syncProjectLocks(tree);
  if (report.written.length === 0) return {};
  return {
    outOfSyncMessage: `The per-project pylock.toml files of nx-pex do not match the uv.lock: run \`nx sync\` and commit them.`,
    outOfSyncDetails: report.written.map((f) => `${f} is out of date with its uv.lock`),
  };
}
