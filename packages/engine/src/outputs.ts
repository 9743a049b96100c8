/**
 * Output paths of a build: names from pyproject.toml and the command line that become file
 * names, containment in the output directory, and where temporary files of an output go.
 */
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from '@nx-pex/pep';

/**
 * Throws unless `name` can be a file name in the output directory: a console-script or project
 * name never holds a path separator or NUL, and is never `.` or `..` (nor starts with `..`).
 */
export function checkOutputName(name: string, where: string): void {
  const bad =
    name === '' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0') ||
    name.startsWith('..') ||
    name === '.' ||
    /[\x00-\x1f\x7f]/.test(name) ||
    name.includes('\uFFFD') ||
    Buffer.byteLength(`${name}.pex`, 'utf8') > 255;
  if (bad) {
    throw new UserError(
      `${where}: ${JSON.stringify(name)} cannot name a PEX file: a console-script name must not contain '/', '\\\\', NUL ` +
        `or control characters, must not start with '..' and must fit in a file name. Rename it.`,
    );
  }
}

/**
 * A path from the command line or options that Node could not decode as UTF-8 (it holds
 * U+FFFD in place of the bytes) names another file than the user meant: refuse it.
 */
export function checkUtf8Path(path: string, what: string): void {
  if (path.includes('\uFFFD')) {
    throw new UserError(`${what} ${JSON.stringify(path)} is not valid UTF-8 (or holds U+FFFD); nx-pex writes only to paths it can name exactly. Use a UTF-8 path.`);
  }
}

/** The device of `path` or of its nearest existing ancestor. */
async function deviceOf(path: string): Promise<number | undefined> {
  for (let p = resolve(path); ; p = dirname(p)) {
    const st = await stat(p).catch(() => undefined);
    if (st) return st.dev;
    if (dirname(p) === p) return undefined;
  }
}

/**
 * Where an output under `outputDir` is written before it is moved into place: the store's
 * `tmp/outputs/` when it is on the same filesystem (nothing Nx caches), else a hidden sibling
 * of the output directory, `<parent>/.nx-pex-tmp`, which no target declares as an output.
 */
export async function outputTmpDir(storeRoot: string, outputDir: string): Promise<string> {
  const storeTmp = join(storeRoot, 'tmp', 'outputs');
  const [a, b] = await Promise.all([deviceOf(storeTmp), deviceOf(outputDir)]);
  if (a !== undefined && a === b) return storeTmp;
  return join(dirname(resolve(outputDir)), '.nx-pex-tmp');
}

/**
 * A path as log lines show it: relative to the working directory (the workspace root under Nx)
 * when it is inside it, so that logs Nx caches and replays read the same in every clone.
 */
export function shownPath(path: string, base: string = process.cwd()): string {
  const rel = relative(base, path);
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel.split(sep).join('/');
}
