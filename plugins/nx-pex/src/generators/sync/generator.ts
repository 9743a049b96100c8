/**
 * `nx-pex:sync`: writes each Python project's `pylock.toml` from the workspace's uv.lock, the
 * lock its build reads and hashes, and its `pylock.test.toml` when it has test groups (the lock
 * its tests run from). Registered on the build and test targets (`syncGenerators`), so
 * `nx build` / `nx affected` bring the files up to date and `nx sync:check` fails when one is
 * stale. Only files whose content changes are written; a pylock.toml nx-pex did not generate is
 * the user's own and is left alone.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fg from 'fast-glob';
import { glob, readNxJson, type Tree } from '../../nx-api';
import { syncProjectLocks as syncFiles, type SyncReport } from '@nx-pex/engine';
import { lockCache } from '../../plugin/lock-cache';

export type { SyncReport };

/** nx-pex's entry in nx.json: its options, and the files its registration is scoped to. */
interface PluginEntry {
  options: { lockPerProject?: boolean };
  include?: string[];
  exclude?: string[];
}

type NxJsonPlugins = Array<string | { plugin: string; options?: unknown; include?: string[]; exclude?: string[] }> | undefined;

function pluginEntry(plugins: NxJsonPlugins): PluginEntry | undefined {
  for (const p of plugins ?? []) {
    if (typeof p === 'string') {
      if (p === 'nx-pex') return { options: {} };
    } else if (p.plugin === 'nx-pex') {
      return { options: (p.options as PluginEntry['options']) ?? {}, include: p.include, exclude: p.exclude };
    }
  }
  return undefined;
}

const NO_SYNC: SyncReport = { written: [], unchanged: [], userOwned: [], problems: [], shadowed: [] };

/**
 * The workspace's pyproject.toml files that the plugin's registration covers: like Nx, which
 * gives createNodes only the files its `include` patterns match and its `exclude` patterns do
 * not, matched with Nx's own glob.
 */
function scopedPyprojects(tree: Tree, entry: PluginEntry | undefined): string[] {
  const all = glob(tree, ['**/pyproject.toml']);
  const included = entry?.include?.length ? new Set(glob(tree, entry.include)) : undefined;
  const excluded = entry?.exclude?.length ? new Set(glob(tree, entry.exclude)) : undefined;
  return all.filter((f) => (!included || included.has(f)) && !excluded?.has(f));
}

/** Brings every Python project's pylock.toml in line with its uv.lock, in `tree`. */
export function syncProjectLocks(tree: Tree): SyncReport {
  const entry = pluginEntry(readNxJson(tree)?.plugins as NxJsonPlugins);
  if (entry?.options.lockPerProject === false) return { ...NO_SYNC };
  const cache = lockCache(tree.root);
  const report = syncFiles(
    {
      read: (path) => tree.read(path, 'utf-8'),
      write: (path, text) => tree.write(path, text),
      exists: (path) => tree.exists(path),
      delete: (path) => tree.delete(path),
      pyprojects: () => scopedPyprojects(tree, entry),
    },
    cache,
  );
  cache.flush();
  return report;
}

/**
 * The same sync on the files on disk under `root` (after a generator's `uv lock` changed the
 * uv.lock, when Nx's tree is already written), unless nx.json turns per-project locks off.
 */
export function syncProjectLocksOnDisk(root: string): SyncReport {
  const read = (path: string) => (existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : null);
  const nxJson = read('nx.json');
  const entry = nxJson ? pluginEntry((JSON.parse(nxJson) as { plugins?: NxJsonPlugins }).plugins) : undefined;
  if (entry?.options.lockPerProject === false) return { ...NO_SYNC };
  const ignore = ['**/node_modules/**', '**/.venv/**', '**/.nx/**', '**/dist/**', ...(entry?.exclude ?? [])];
  const pyprojects = () =>
    fg
      .sync(entry?.include?.length ? entry.include : ['**/pyproject.toml'], { cwd: root, ignore })
      .filter((f) => f === 'pyproject.toml' || f.endsWith('/pyproject.toml'))
      .sort();
  return syncFiles({
    read,
    write: (path, text) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    },
    exists: (path) => existsSync(join(root, path)),
    delete: (path) => rmSync(join(root, path), { force: true }),
    pyprojects,
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
  const shadowing = new Set(report.shadowed.map((m) => m.split(' ', 1)[0]));
  return {
    // Nx prints this while \`nx sync\` writes the files, and adds what to run under \`nx sync:check\`:
    // it says what differs, not what to run.
    outOfSyncMessage: `${report.written.length} per-project pylock.toml file${report.written.length === 1 ? '' : 's'} of nx-pex differ${report.written.length === 1 ? 's' : ''} from what the uv.lock gives; commit ${report.written.length === 1 ? 'it' : 'them'} once written.`,
    outOfSyncDetails: [...report.shadowed, ...report.written.filter((f) => !shadowing.has(f)).map((f) => `${f} is out of date with its uv.lock`)],
  };
}
