/** The choice and removal of entries that `WheelStore.prune` and `pruneLayers` share. */

export interface EvictOptions {
  /** Remove entries not used for this long. */
  olderThanMs?: number;
  /** Then remove the least recently used entries until they take at most this many bytes. */
  maxBytes?: number;
  dryRun?: boolean;
  now: number;
}

export interface Evictable {
  bytes: number;
  /** Last use. */
  usedMs: number;
}

export interface EvictSteps<T> {
  /** The key running builds hold an entry by. */
  key(entry: T): string;
  /** The keys running builds hold. */
  inUse(): Promise<Set<string>>;
  /** Moves the entry out of its place; returns where it went, or undefined when it was gone. */
  moveAside(entry: T): Promise<string | undefined>;
  /** Puts back an entry that a build took while it was aside. */
  putBack(entry: T, aside: string): Promise<void>;
  /** Removes an entry that was moved aside. */
  discard(entry: T, aside: string): Promise<void>;
}

/**
 * Removes entries unused for `olderThanMs`, then the least recently used until at most
 * `maxBytes` remain; never one a running build holds: each victim is moved aside, the holds are
 * read again, and an entry held meanwhile is put back. With `dryRun`, only lists the victims.
 */
export async function evict<T extends Evictable>(entries: T[], opts: EvictOptions, steps: EvictSteps<T>): Promise<{ removed: T[]; skippedInUse: number }> {
  const sorted = [...entries].sort((a, b) => a.usedMs - b.usedMs || steps.key(a).localeCompare(steps.key(b)));
  const held = await steps.inUse();
  const victims = new Set<T>();
  let skippedInUse = 0;
  if (opts.olderThanMs !== undefined) {
    for (const e of sorted) {
      if (opts.now - e.usedMs < opts.olderThanMs) continue;
      if (held.has(steps.key(e))) skippedInUse++;
      else victims.add(e);
    }
  }
  if (opts.maxBytes !== undefined) {
    let total = sorted.filter((e) => !victims.has(e)).reduce((n, e) => n + e.bytes, 0);
    for (const e of sorted) {
      if (total <= opts.maxBytes) break;
      if (victims.has(e)) continue;
      if (held.has(steps.key(e))) {
        skippedInUse++;
        continue;
      }
      victims.add(e);
      total -= e.bytes;
    }
  }
  if (opts.dryRun || !victims.size) return { removed: [...victims], skippedInUse };
  const removed: T[] = [];
  const moved: { entry: T; aside: string }[] = [];
  for (const e of victims) {
    const aside = await steps.moveAside(e);
    if (aside !== undefined) moved.push({ entry: e, aside });
  }
  const heldNow = await steps.inUse();
  for (const { entry, aside } of moved) {
    if (heldNow.has(steps.key(entry))) {
      skippedInUse++;
      await steps.putBack(entry, aside);
      continue;
    }
    await steps.discard(entry, aside);
    removed.push(entry);
  }
  return { removed, skippedInUse };
}
