/**
 * Which workspace projects each workspace project of a uv.lock needs: the first-party packages
 * its closure reaches through the lock's dependency edges, through extras of workspace
 * dependencies (`app → lib[evals] → evals`) and whatever the markers say (an edge needed on one
 * platform is still an edge: leaving it out would be a false cache hit there). Computed for every
 * project of the lock in one pass over the lock's edges.
 */
import { isFirstPartySource, sourceKey } from './source';
import type { LockedDependency, LockedPackage, Lockfile } from './types';

/** One first-party package of a lock and the first-party packages its closure holds. */
export interface WorkspaceProjectEdges {
  /** Canonical name. */
  name: string;
  /** Directory of its source tree, relative to the lock's directory (posix); undefined for none. */
  path?: string;
  /** Canonical names of the other first-party packages its closure reaches (sorted). */
  needs: string[];
}

function isFirstParty(members: Set<string>, p: LockedPackage): boolean {
  return members.has(p.name) || isFirstPartySource(p.source);
}

/**
 * Every first-party package of `lock` with the first-party packages it needs, by name. A
 * dependency the lock names ambiguously (several entries of one name, no version or source to
 * choose) reaches all of them: an extra edge costs a rebuild, a missing one a stale PEX.
 */
export function lockWorkspaceEdges(lock: Lockfile): Map<string, WorkspaceProjectEdges> {
  const members = new Set(lock.workspaceMembers);
  const byName = new Map<string, number[]>();
  lock.packages.forEach((p, i) => byName.set(p.name, [...(byName.get(p.name) ?? []), i]));
  // Nodes: (package, extra) pairs, '' for the package itself; each with its edges resolved once.
  const nodeIds = new Map<string, number>();
  const nodePkg: number[] = [];
  const nodeExtra: string[] = [];
  const node = (pkg: number, extra: string): number => {
    const key = `${pkg}\0${extra}`;
    let id = nodeIds.get(key);
    if (id === undefined) {
      id = nodePkg.length;
      nodeIds.set(key, id);
      nodePkg.push(pkg);
      nodeExtra.push(extra);
    }
    return id;
  };
  const targets = (dep: LockedDependency): number[] =>
    (byName.get(dep.name) ?? []).filter((i) => {
      const p = lock.packages[i];
      return (dep.version === undefined || p.version === dep.version) && (dep.source === undefined || sourceKey(p.source) === dep.source);
    });
  const adjacency: number[][] = [];
  const edgesOf = (id: number): number[] => {
    let out = adjacency[id];
    if (out) return out;
    const pkg = lock.packages[nodePkg[id]];
    const deps = nodeExtra[id] === '' ? pkg.dependencies : (pkg.optionalDependencies[nodeExtra[id]] ?? []);
    const set = new Set<number>();
    for (const dep of deps) {
      for (const t of targets(dep)) {
        set.add(node(t, ''));
        for (const x of dep.extras) set.add(node(t, x));
      }
    }
    out = [...set];
    adjacency[id] = out;
    return out;
  };

  const firstParty = lock.packages.map((p) => isFirstParty(members, p));
  const result = new Map<string, WorkspaceProjectEdges>();
  for (let i = 0; i < lock.packages.length; i++) {
    if (!firstParty[i]) continue;
    const root = lock.packages[i];
    const seen = new Set<number>([node(i, '')]);
    const stack = [node(i, '')];
    const needs = new Set<string>();
    while (stack.length) {
      for (const next of edgesOf(stack.pop()!)) {
        if (seen.has(next)) continue;
        seen.add(next);
        stack.push(next);
        const p = nodePkg[next];
        if (firstParty[p] && lock.packages[p].name !== root.name) needs.add(lock.packages[p].name);
      }
    }
    const entry: WorkspaceProjectEdges = { name: root.name, needs: [...needs].sort() };
    if ('path' in root.source) entry.path = root.source.path;
    const known = result.get(root.name);
    // One name twice (a lock uv would not write): the union of both, so no edge is lost.
    if (known) known.needs = [...new Set([...known.needs, ...entry.needs])].sort();
    else result.set(root.name, entry);
  }
  return result;
}
