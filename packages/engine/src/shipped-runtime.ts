/**
 * The pinned pex wheel the nx-pex package carries (`<package>/pex/<wheel>`, put there when the
 * package is made and checked against its sha256), so that builds need no index for the runtime.
 * Found from the bundled code's own location inside that package; a build of these sources
 * outside it (tests, other bundles) has none, and takes the runtime from the indexes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PINNED_PEX } from '@nx-pex/pex';

let found: string | null | undefined;

/** The package's own directory: the nearest `package.json` named `nx-pex` above this file. */
function packageRoot(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === 'nx-pex') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Path of the shipped pinned pex wheel, or undefined when this copy of nx-pex has none. */
export function shippedPexWheel(): string | undefined {
  if (found === undefined) {
    const root = packageRoot();
    const path = root && join(root, 'pex', PINNED_PEX.filename);
    found = path && existsSync(path) ? path : null;
  }
  return found ?? undefined;
}
