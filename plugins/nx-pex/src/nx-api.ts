/**
 * The Nx API the plugin uses, taken from the workspace's own `nx` (nx-pex's peer dependency,
 * `>=22 <25`) rather than from `@nx/devkit`: `@nx/devkit` re-exports these same functions from
 * `nx/src/devkit-exports`, but as a peer dependency npm resolves it to its newest release
 * (24.x, which requires Nx 23 or later) unless the workspace lists it itself, and `nx add
 * nx-pex` then fails on an Nx 22 workspace. Everything here exists in Nx 22, 23 and 24.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Tree } from 'nx/src/devkit-exports';

export * from 'nx/src/devkit-exports';

/** The version of the Nx that runs the plugin. */
export const NX_VERSION: string = (require('nx/package.json') as { version: string }).version;

/**
 * `@nx/devkit`'s formatFiles (prettier, where the workspace has it) when the workspace has
 * `@nx/devkit`; otherwise nothing, as the generated files are written formatted.
 */
export async function formatFiles(tree: Tree): Promise<void> {
  let devkit: { formatFiles?: (tree: Tree) => Promise<void> } | undefined;
  try {
    devkit = createRequire(join(tree.root, 'package.json'))('@nx/devkit');
  } catch {
    return;
  }
  await devkit?.formatFiles?.(tree);
}
