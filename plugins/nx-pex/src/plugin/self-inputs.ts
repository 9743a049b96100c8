import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { TargetConfiguration } from '../nx-api';

export type TargetInput = NonNullable<TargetConfiguration['inputs']>[number];

/**
 * The cache inputs that stand for nx-pex itself. Installed from a registry, nx-pex is an external
 * node of the graph and `externalDependencies: ['nx-pex']` hashes it (and nothing else of
 * node_modules). Linked from the same workspace (npm workspaces), it is a project there and Nx
 * refuses to name it as an external dependency, so its sources are hashed as files instead.
 */
export function selfInputs(workspaceRoot: string): TargetInput[] {
  const linked = linkedWorkspacePackages(workspaceRoot);
  if (!linked.has('nx-pex')) return [{ externalDependencies: ['nx-pex'] }];
  const dirs = new Set<string>();
  for (const [name, dir] of linked) {
    if (name === 'nx-pex' || name.startsWith('@nx-pex/')) dirs.add(dir);
  }
  return [...dirs].sort().map((dir) => `{workspaceRoot}/${dir}/**/*`);
}

// The last package-lock.json read, by path and text: it is parsed again only when it changes.
let parsed: { file: string; text: string; linked: Map<string, string> } | undefined;

/** Packages that the workspace's package-lock.json links from inside the workspace: name → dir. */
function linkedWorkspacePackages(workspaceRoot: string): Map<string, string> {
  const file = join(workspaceRoot, 'package-lock.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  if (parsed?.file !== file || parsed.text !== text) parsed = { file, text, linked: parseLinked(text) };
  return parsed.linked;
}

function parseLinked(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let lock: { packages?: Record<string, { link?: boolean; resolved?: string }> };
  try {
    lock = JSON.parse(text);
  } catch {
    return out;
  }
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (!entry.link || !entry.resolved || !key.startsWith('node_modules/')) continue;
    const name = key.slice('node_modules/'.length);
    const dir = entry.resolved.split(sep).join('/');
    if (dir.startsWith('..')) continue;
    out.set(name, dir);
  }
  return out;
}

/** Where this plugin's package lives on disk, relative to a workspace root (for messages). */
export function pluginLocation(workspaceRoot: string): string {
  return relative(workspaceRoot, realpathSync(dirname(require.resolve('nx-pex/package.json'))));
}
