/**
 * Lock files read by the graph code, kept while the file's size, inode and modification time (to
 * the nanosecond) stay the same: createNodes, createDependencies and the sync generator of one
 * process read a multi-megabyte uv.lock once.
 */
import { readFileSync, statSync } from 'node:fs';

const texts = new Map<string, { stamp: string; text: string }>();

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
