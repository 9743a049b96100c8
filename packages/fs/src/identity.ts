/** What a file looked like when it was checked, to notice a change without reading it. */
import type { BigIntStats } from 'node:fs';

/**
 * A file's size, inode, mtime and ctime (ns): a truncation, an edit, a file swapped for another or
 * for a symlink changes one of these, and `ctime` cannot be set back by anyone.
 */
export interface FileIdentity {
  size: number;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** The identity of the file `st` (from a `{ bigint: true }` stat) describes. */
export function identityOf(st: BigIntStats): FileIdentity {
  return { size: Number(st.size), ino: st.ino.toString(), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString() };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** Whether `st` (of an open file) shows a regular file as it was when its identity was recorded. */
export function hasIdentity(st: BigIntStats, id: FileIdentity): boolean {
  return st.isFile() && sameIdentity(identityOf(st), id);
}
