/**
 * Which workspace project provides each top-level module: what stands in for a lock's edges when
 * no lock governs a project yet (its imports of other projects' modules).
 */
import { findImportRoots, type PyProject } from '@nx-pex/project';

/**
 * Top-level module (a package directory or a `.py` file at an import root) → the name of the
 * project that provides it; null when more than one does, since such a name says nothing about
 * which one is meant. A project whose import roots cannot be found provides nothing.
 */
export async function moduleOwners(projects: ReadonlyArray<{ name: string; pyproject: PyProject }>): Promise<Map<string, string | null>> {
  const owners = new Map<string, string | null>();
  for (const p of projects) {
    let roots;
    try {
      roots = await findImportRoots(p.pyproject);
    } catch {
      continue;
    }
    for (const root of roots) {
      for (const entry of root.entries) {
        const module = entry.replace(/\.py$/, '');
        owners.set(module, owners.has(module) && owners.get(module) !== p.name ? null : p.name);
      }
    }
  }
  return owners;
}
