/**
 * Layers in the store: a dependencies layer is built once per key (a sha256 of everything that
 * goes into it) and kept as `layers/<key>/`, a directory that appears complete or not at all
 * (written under `tmp/`, then renamed), with read-only files. Builds take a layer by hard links
 * where the filesystem allows, by copies otherwise; running builds hold the layers they use
 * (in their lease files, like wheels), so `prune` leaves those alone.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { evict } from './evict';
import { syncDir } from '@nx-pex/fs';
import { StoreError, type WheelStore } from './store';

const HEX64 = /^[0-9a-f]{64}$/;
const DAY_MS = 24 * 60 * 60 * 1000;

function checkKey(key: string): string {
  if (!HEX64.test(key)) throw new StoreError(`Not a layer key (a sha256 hex digest): ${JSON.stringify(key)}`);
  return key;
}

/** `<root>/layers/<key>` */
export function layerPath(store: WheelStore, key: string): string {
  return path.join(store.root, 'layers', checkKey(key));
}

export interface EnsuredLayer {
  /** The layer's directory in the store. */
  path: string;
  /** True when the store had it already (this build wrote nothing). */
  reused: boolean;
}

async function isDir(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Every regular file below `dir` (symlinks and directories left out). */
async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** Files read-only (executables keep their x bits) and synced, directories synced. */
async function sealTree(dir: string): Promise<void> {
  for (const file of await filesBelow(dir)) {
    const st = await fs.stat(file);
    await fs.chmod(file, st.mode & 0o111 ? 0o555 : 0o444);
    const fh = await fs.open(file, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** Directories below `dir` made writable again, so that the tree can be removed. */
async function removeTree(dir: string): Promise<void> {
  const unlock = async (d: string) => {
    await fs.chmod(d, 0o755).catch(() => undefined);
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await unlock(path.join(d, e.name));
  };
  await unlock(dir);
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * The layer `key`, from the store when it is there, else made by `write(dir)` (which fills the
 * empty directory `dir`) and added atomically. Concurrent builds of one key in several processes
 * write it once: the others wait on the key's lock and take the finished layer.
 */
export async function ensureLayer(store: WheelStore, key: string, write: (dir: string) => Promise<void>): Promise<EnsuredLayer> {
  const dest = layerPath(store, key);
  await store.hold(key);
  if (await isDir(dest)) {
    await touch(dest);
    return { path: dest, reused: true };
  }
  const tmpDir = path.join(store.root, 'tmp');
  try {
    await fs.mkdir(tmpDir, { recursive: true });
    await fs.mkdir(path.join(store.root, 'locks'), { recursive: true });
    await fs.mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    throw new StoreError(`Cannot create the layer store at ${path.dirname(dest)}: ${(e as Error).message}. Set NX_PEX_STORE to a writable directory.`);
  }
  const release = await store.lock(key, dest);
  try {
    if (await isDir(dest)) {
      await touch(dest);
      return { path: dest, reused: true };
    }
    const tmp = path.join(tmpDir, `${key}.${process.pid}.${randomBytes(6).toString('hex')}.layer`);
    await fs.mkdir(tmp, { mode: 0o755 });
    try {
      await write(tmp);
      await sealTree(tmp);
      try {
        await fs.rename(tmp, dest);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // Another writer (without the lock) finished first: its layer has the same bytes.
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDir(dest))) return { path: dest, reused: true };
        throw e;
      }
      await syncDir(path.dirname(dest));
      return { path: dest, reused: false };
    } finally {
      await removeTree(tmp).catch(() => undefined);
    }
  } finally {
    await release();
  }
}

/** Record a use of a layer (its directory's mtime), which `pruneLayers` orders by. */
async function touch(dir: string): Promise<void> {
  const now = new Date();
  await fs.utimes(dir, now, now).catch(() => undefined);
}

export interface LinkResult {
  /** Files hard-linked to the store. */
  linked: number;
  /** Files copied (the filesystem refused a hard link). */
  copied: number;
  /** Bytes of the copied files. */
  copiedBytes: number;
}

/**
 * Puts the file or directory `src` (inside a store layer) at `dest`: directories are made anew,
 * files are hard links to the store's read-only files where the filesystem allows and copies
 * (read-only too) otherwise, symlinks are made again. `dest` must not exist.
 */
export async function linkFromStore(src: string, dest: string, result: LinkResult = { linked: 0, copied: 0, copiedBytes: 0 }): Promise<LinkResult> {
  const st = await fs.lstat(src);
  if (st.isDirectory()) {
    await fs.mkdir(dest, { mode: 0o755 });
    for (const name of (await fs.readdir(src)).sort()) await linkFromStore(path.join(src, name), path.join(dest, name), result);
  } else if (st.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(src), dest);
  } else {
    try {
      await fs.link(src, dest);
      result.linked++;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP' && code !== 'EACCES') throw e;
      await fs.copyFile(src, dest, fs.constants.COPYFILE_EXCL);
      await fs.chmod(dest, st.mode & 0o777);
      result.copied++;
      result.copiedBytes += st.size;
    }
  }
  return result;
}

interface StoredLayer {
  key: string;
  path: string;
  bytes: number;
  usedMs: number;
}

async function listLayers(store: WheelStore): Promise<StoredLayer[]> {
  const base = path.join(store.root, 'layers');
  const out: StoredLayer[] = [];
  for (const name of await fs.readdir(base).catch(() => [] as string[])) {
    if (!HEX64.test(name)) continue;
    const p = path.join(base, name);
    const st = await fs.stat(p).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    let bytes = 0;
    for (const f of await filesBelow(p).catch(() => [] as string[])) bytes += (await fs.stat(f).catch(() => ({ size: 0 }))).size;
    out.push({ key: name, path: p, bytes, usedMs: st.mtimeMs });
  }
  return out;
}

export interface LayerInfo {
  layers: number;
  bytes: number;
  /** Layers held by running builds. */
  inUse: number;
}

/** How many layers the store holds and their size (files hard-linked from `wheels/` count too). */
export async function layerInfo(store: WheelStore): Promise<LayerInfo> {
  const [layers, held] = await Promise.all([listLayers(store), store.inUse()]);
  return {
    layers: layers.length,
    bytes: layers.reduce((n, l) => n + l.bytes, 0),
    inUse: layers.filter((l) => held.has(l.key)).length,
  };
}

export interface LayerPruneOptions {
  /** Remove layers not used for this long. */
  olderThanMs?: number;
  /** Then remove the least recently used layers until they take at most this many bytes. */
  maxBytes?: number;
  dryRun?: boolean;
  now?: number;
}

export interface LayerPruneResult {
  removed: { key: string; bytes: number }[];
  freedBytes: number;
  skippedInUse: number;
  remainingLayers: number;
  remainingBytes: number;
}

/**
 * Removes layers as `WheelStore.prune` removes files: unused for `olderThanMs`, then the least
 * recently used until at most `maxBytes` remain; never one a running build holds (each victim is
 * moved aside, the holds are read again, and a layer held meanwhile is put back).
 */
export async function pruneLayers(store: WheelStore, opts: LayerPruneOptions): Promise<LayerPruneResult> {
  const now = opts.now ?? Date.now();
  const layers = await listLayers(store);
  const tmpDir = path.join(store.root, 'tmp');
  const { removed: evicted, skippedInUse } = await evict(layers, { ...opts, now }, {
    key: (l) => l.key,
    inUse: () => store.inUse(),
    moveAside: async (l) => {
      await fs.mkdir(tmpDir, { recursive: true });
      const trash = path.join(tmpDir, `${l.key}.${process.pid}.${randomBytes(6).toString('hex')}.pruned-layer`);
      try {
        await fs.rename(l.path, trash);
        return trash;
      } catch {
        return undefined; // Gone already.
      }
    },
    putBack: (l, trash) => fs.rename(trash, l.path).catch(() => removeTree(trash)),
    discard: (_l, trash) => removeTree(trash),
  });
  const removed: LayerPruneResult['removed'] = evicted.map((l) => ({ key: l.key, bytes: l.bytes }));
  if (!opts.dryRun) await removeOldLayerTemps(store, now);
  const gone = new Set(removed.map((r) => r.key));
  const remaining = layers.filter((l) => !gone.has(l.key));
  return {
    removed,
    freedBytes: removed.reduce((n, r) => n + r.bytes, 0),
    skippedInUse,
    remainingLayers: remaining.length,
    remainingBytes: remaining.reduce((n, l) => n + l.bytes, 0),
  };
}

/** Layer directories left in `tmp/` by killed builds, a day old or more. */
async function removeOldLayerTemps(store: WheelStore, now: number): Promise<void> {
  const tmpDir = path.join(store.root, 'tmp');
  for (const name of await fs.readdir(tmpDir).catch(() => [] as string[])) {
    if (!name.endsWith('.layer') && !name.endsWith('.pruned-layer')) continue;
    const p = path.join(tmpDir, name);
    const st = await fs.stat(p).catch(() => undefined);
    if (st && now - st.mtimeMs > DAY_MS) await removeTree(p).catch(() => undefined);
  }
}
