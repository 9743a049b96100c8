/**
 * Lock files as the graph reads them: kept while the file's size, inode and modification time (to
 * the nanosecond) stay the same, so that one process (an Nx graph computation and its sync) reads
 * a multi-megabyte uv.lock once; and their sha256, computed once per text.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

const texts = new Map<string, { stamp: string; text: string }>();

/** The text of the file at `path`, or undefined when it cannot be read. */
export function readCached(path: string): string | undefined {
  let stamp: string;
  try {
    const s = statSync(path, { bigint: true });
    stamp = `${s.size}\0${s.ino}\0${s.mtimeNs}\0${s.ctimeNs}`;
  } catch {
    return undefined;
  }
  const hit = texts.get(path);
  if (hit?.stamp === stamp) return hit.text;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  texts.set(path, { stamp, text });
  return text;
}

const textHashes = new Map<string, { text: string; sha: string }>();

/** sha256 of a text, remembered for the last text of each path. */
export function textSha(path: string, text: string): string {
  const hit = textHashes.get(path);
  if (hit && hit.text === text) return hit.sha;
  const sha = createHash('sha256').update(text).digest('hex');
  textHashes.set(path, { text, sha });
  return sha;
}

/** sha256 of the file at `path` (read once while it is unchanged), or undefined when it cannot be read. */
export function fileSha(path: string): string | undefined {
  const text = readCached(path);
  return text === undefined ? undefined : textSha(path, text);
}
