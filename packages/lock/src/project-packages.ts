/**
 * Which third-party packages each Python project's closure holds (for Nx, its external nodes
 * `pypi:<name>` and the edges to them). Taken from the project's own pylock.toml when it is the
 * user's, else from the workspace's uv.lock (what the generated pylock.toml holds). Every parse
 * is kept by content hash, so a graph recomputation reads only what changed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parsePylock } from './pylock';
import { generatedPylockHeader, universalClosure } from './pylock-export';
import { parseUvLock } from './uv';
import type { LockedArtifact, Lockfile } from './types';

/** One third-party package of a closure: what the external node says about it. */
export interface ClosurePackage {
  name: string;
  version: string;
  /** sha256 over the sha256 of each of its files. */
  hash: string;
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function artifactsHash(files: readonly LockedArtifact[]): string {
  return sha(files.map((f) => `${f.filename}\0${f.hash ?? f.sha256}`).sort().join('\n'));
}

const uvLocks = new Map<string, { hash: string; lock?: Lockfile; nodes?: Map<string, ClosurePackage> }>();
const closures = new Map<string, ClosurePackage[] | undefined>();

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function uvLockAt(path: string): { hash: string; lock?: Lockfile; nodes?: Map<string, ClosurePackage> } | undefined {
  const text = read(path);
  if (text === undefined) return undefined;
  const hash = sha(text);
  const known = uvLocks.get(path);
  if (known?.hash === hash) return known;
  let lock: Lockfile | undefined;
  try {
    lock = parseUvLock(text, path);
  } catch {
    lock = undefined; // the build reports a broken lock; the graph does without its packages
  }
  const entry: { hash: string; lock?: Lockfile; nodes?: Map<string, ClosurePackage> } = { hash, lock };
  uvLocks.set(path, entry);
  return entry;
}

function merge(list: ClosurePackage[]): ClosurePackage[] {
  // A package locked in several versions (one per platform or Python) is one node.
  const byName = new Map<string, ClosurePackage[]>();
  for (const p of list) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  return [...byName]
    .map(([name, ps]) =>
      ps.length === 1 ? ps[0] : { name, version: ps.map((p) => p.version).join(' | '), hash: sha(ps.map((p) => p.hash).join('\n')) },
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The third-party packages of a project: from `<projectDir>/pylock.toml` when it is the user's
 * own, else from the uv.lock. Undefined when neither tells (no lock, a project the lock does not
 * cover, a broken file): the build reports those.
 */
export function projectPackages(project: string, projectDirAbs: string, uvLockAbs: string | undefined, usePylock: boolean): ClosurePackage[] | undefined {
  if (usePylock) {
    const text = read(`${projectDirAbs}/pylock.toml`);
    if (text !== undefined && !generatedPylockHeader(text)) {
      const key = `pylock\0${sha(text)}\0${project}`;
      if (closures.has(key)) return closures.get(key);
      let out: ClosurePackage[] | undefined;
      try {
        out = merge(
          parsePylock(text, `${projectDirAbs}/pylock.toml`)
            .packages.filter((p) => !p.directory)
            .map((p) => ({ name: p.name, version: p.version ?? '', hash: artifactsHash([...p.wheels, ...(p.sdist ? [p.sdist] : []), ...(p.archive ? [p.archive] : [])]) })),
        );
      } catch {
        out = undefined;
      }
      closures.set(key, out);
      return out;
    }
  }
  if (!uvLockAbs) return undefined;
  const uv = uvLockAt(uvLockAbs);
  if (!uv?.lock) return undefined;
  const key = `uv\0${uv.hash}\0${project}`;
  if (closures.has(key)) return closures.get(key);
  let out: ClosurePackage[] | undefined;
  try {
    // One node per name for the whole lock, so that every project's edges meet the same node.
    if (!uv.nodes) {
      const lock = uv.lock;
      const members = new Set(lock.workspaceMembers);
      const third = lock.packages.filter((p) => !members.has(p.name) && !['editable', 'virtual', 'directory'].includes(p.source.kind));
      uv.nodes = new Map(
        merge(third.map((p) => ({ name: p.name, version: p.version ?? '', hash: artifactsHash([...p.wheels, ...(p.sdist ? [p.sdist] : [])]) }))).map((n) => [n.name, n]),
      );
    }
    const nodes = uv.nodes;
    const names = new Set(universalClosure(uv.lock, project).filter((e) => !e.firstParty).map((e) => e.pkg.name));
    out = [...names].sort().map((n) => nodes.get(n)!).filter(Boolean);
  } catch {
    out = undefined;
  }
  closures.set(key, out);
  return out;
}
