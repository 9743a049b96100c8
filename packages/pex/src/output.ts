/**
 * Where a PEX is written before it is moved into place, what may be replaced at the output path,
 * and the removal of temporary files on SIGINT/SIGTERM and after a killed build.
 */
import { randomBytes } from 'node:crypto';
import { cp, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import yauzl from 'yauzl';
import { HOST_TAG, keepOnInterrupt, pidAlive, removeOnInterrupt, removedOnInterrupt } from '@nx-pex/fs';
import { UserError } from './errors';

/** `.<output name>.<host tag>-<pid>.<12 hex>.tmp`, and `.old` for a replaced output on its way out. */
const TEMP_NAME = /^\..+\.([0-9a-f]{8})-(\d+)\.([0-9a-f]{12})\.tmp(\.old)?$/;
/** Another host's temporary output is taken for abandoned after this long. */
const FOREIGN_STALE_MS = 24 * 60 * 60 * 1000;
/** What earlier versions left in the output directory: `.<output name>.<12 hex>.tmp`. */
const LEGACY_TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp(\.old)?$/;

/** Whether `path` is `dir` or below it, after resolving both (no symlinks followed). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** Throws unless `path` lies inside `dir`: the last check before a write or a removal. */
export function assertInside(dir: string, path: string, what: string): void {
  if (!isInside(dir, path)) {
    throw new UserError(`Refusing to write or remove ${path} (${what}): it is outside ${resolve(dir)}.`);
  }
}

/** Removes `path` if the process is interrupted (SIGINT, SIGTERM) or exits before `untrack`. */
export const track = removeOnInterrupt;
export const untrack = keepOnInterrupt;

/**
 * Removes temporary outputs of builds that are no longer running (killed with SIGKILL, or a
 * crash) from `dir`: names of ours whose process is gone, and earlier versions' leftovers.
 */
export async function sweepStaleTemps(dir: string, opts: { legacy?: boolean } = {}): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_NAME.exec(name);
    const p = join(dir, name);
    let stale: boolean;
    if (!m) stale = opts.legacy === true && LEGACY_TEMP_NAME.test(name);
    else if (m[1] === HOST_TAG) stale = Number(m[2]) !== process.pid && !pidAlive(Number(m[2]));
    else stale = Date.now() - ((await lstat(p).catch(() => undefined))?.mtimeMs ?? Date.now()) > FOREIGN_STALE_MS;
    if (!stale || removedOnInterrupt(p)) continue;
    await rm(p, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The output's name as its temporary name begins: whole when the temporary name fits in a file
 * name (255 bytes), else cut (at a character boundary) so that it does. Any output name that is
 * itself a valid file name therefore has a temporary name; the length limit is the output's own.
 */
function tempStem(name: string): string {
  // `.` + stem + `.<8 hex>-<pid>.<12 hex>.tmp.old`
  const room = 255 - (1 + 1 + 8 + 1 + String(process.pid).length + 1 + 12 + 8);
  if (Buffer.byteLength(name, 'utf8') <= room) return name;
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch, 'utf8') > room) break;
    out += ch;
  }
  return out;
}

/** A fresh temporary path for `outputPath` in `dir`, removed on SIGINT/SIGTERM until `untrack`. */
export function tempPathFor(dir: string, outputPath: string): string {
  const p = join(dir, `.${tempStem(basename(outputPath))}.${HOST_TAG}-${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  track(p);
  return p;
}

function zipHasPexInfo(path: string): Promise<boolean> {
  return new Promise((done) => {
    yauzl.open(path, { lazyEntries: true, autoClose: true }, (err, zf) => {
      if (err || !zf) return done(false);
      let found = false;
      zf.on('entry', (e: yauzl.Entry) => {
        if (e.fileName === 'PEX-INFO') {
          found = true;
          zf.close();
          return done(true);
        }
        zf.readEntry();
      });
      zf.on('end', () => {
        if (!found) done(false);
      });
      zf.on('error', () => {
        if (!found) done(false);
      });
      zf.readEntry();
    });
  });
}

/**
 * Whether what is at `path` is a PEX (a zipapp with PEX-INFO, or a packed or loose directory
 * with PEX-INFO at its top), so that replacing it loses nothing but an earlier build. Nothing
 * there, an empty file and an empty directory count as replaceable too.
 */
export async function isReplaceableOutput(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return true;
  if (st.isDirectory()) {
    const names = await readdir(path).catch(() => undefined);
    if (names === undefined) return false;
    if (names.length === 0) return true;
    return (await lstat(join(path, 'PEX-INFO')).catch(() => undefined))?.isFile() === true;
  }
  if (st.isFile()) return st.size === 0 || (await zipHasPexInfo(path));
  return false;
}

/** Throws a clear error when `path` holds something other than an earlier PEX. */
export async function checkReplaceable(path: string): Promise<void> {
  if (await isReplaceableOutput(path)) return;
  const st = await lstat(path).catch(() => undefined);
  const what = st?.isDirectory() ? 'a directory' : st?.isSymbolicLink() ? 'a symbolic link' : 'a file';
  throw new UserError(
    `The output path ${path} is ${what} that is not a PEX (it has no PEX-INFO), so nx-pex will not replace it. ` +
      `Choose another output path (-o / outputPath), or remove it yourself if it is meant to go.`,
  );
}

/**
 * Moves the finished `tmp` (file or directory) to `outputPath`, replacing what is there when
 * `check` allows it (by default: an earlier PEX). A `tmp` on another filesystem is first copied
 * next to the output, then renamed.
 */
export async function moveIntoPlace(tmp: string, outputPath: string, check: (path: string) => Promise<void> = checkReplaceable): Promise<void> {
  await check(outputPath);
  const outDir = resolve(outputPath, '..');
  let source = tmp;
  const old = await lstat(outputPath).catch(() => undefined);
  const direct = async (from: string): Promise<void> => {
    const isDir = (await lstat(from)).isDirectory();
    if (!isDir && !old?.isDirectory()) return rename(from, outputPath);
    if (!old) return rename(from, outputPath);
    const trash = join(outDir, `.${basename(outputPath)}.${HOST_TAG}-${process.pid}.${randomBytes(6).toString('hex')}.tmp.old`);
    track(trash);
    await rename(outputPath, trash);
    try {
      await rename(from, outputPath);
    } catch (e) {
      await rename(trash, outputPath).catch(() => undefined);
      throw e;
    }
    await rm(trash, { recursive: true, force: true });
    untrack(trash);
  };
  try {
    await direct(source);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    source = tempPathFor(outDir, outputPath);
    try {
      await mkdir(outDir, { recursive: true });
      await cp(tmp, source, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      await direct(source);
    } finally {
      await rm(source, { recursive: true, force: true }).catch(() => undefined);
      untrack(source);
    }
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}
