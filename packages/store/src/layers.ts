/**
 * Layers in the store: a dependencies layer is built once per key (a sha256 of everything that
 * goes into it) and kept as `layers/<key>/`, a directory that appears complete or not at all
 * (written under `tmp/`, then renamed), with read-only files. Builds take a layer by hard links
 * where the filesystem allows, by copies otherwise; running builds hold the layers they use
 * (in their lease files, like wheels), so `prune` leaves those alone.
 *
 * Layers are verified like wheels. Each carries `RECORD.json`, the sha256 and size of every
 * file (and the target of every symlink) as written. Before a layer is reused, every file's size
 * and identity (inode, mtime, ctime) are compared with what this store last verified
 * (`records/layers/<key>.json`); a file that differs is hashed again. A layer whose files are
 * missing, added, of another type or other bytes is moved out of the way and built again: a
 * damaged layer is never shipped. Since `dist/` holds hard links to these files, a user's write
 * through one (possible as root despite the read-only modes) is caught this way at the next use.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { evict } from './evict';
import { identityOf, sameIdentity, syncDir, type FileIdentity } from '@nx-pex/fs';
import { sha256File, StoreError, type WheelStore } from './store';

/** The record of a layer's files, inside the layer. */
const RECORD = 'RECORD.json';
/** A record larger than this is not a record nx-pex wrote. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

type RecordEntry = { size: number; sha256: string } | { symlink: string };
interface LayerRecord {
  files: Record<string, RecordEntry>;
  /**
   * Python runs from this layer (a venv) and may add the byte code of what it imports
   * (`__pycache__/*.pyc`, pytest's rewritten modules among them): such files, not in `files`, are
   * not damage. Everything recorded is still verified.
   */
  bytecode?: boolean;
}

/** Options of a layer, recorded in it. */
export interface LayerOptions {
  /** Python runs from the layer and may add byte code below it (see `LayerRecord.bytecode`). */
  bytecode?: boolean;
}

const BYTECODE = /(^|\/)__pycache__\/[^/]+\.pyc$/;

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
  /** Why the store's copy was found damaged and built again (undefined: it was not). */
  damaged?: string;
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

/** Every entry below `dir` but directories, by path relative to `dir` ('/'-separated), with its lstat. */
async function entriesBelow(dir: string): Promise<Map<string, import('node:fs').BigIntStats>> {
  const out = new Map<string, import('node:fs').BigIntStats>();
  const walk = async (d: string, rel: string) => {
    for (const name of (await fs.readdir(d)).sort()) {
      const p = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(p, { bigint: true });
      if (st.isDirectory()) await walk(p, r);
      else out.set(r, st);
    }
  };
  await walk(dir, '');
  return out;
}

/** Writes `RECORD.json` into the layer being made in `dir`: sha256 and size of each file, target of each symlink. */
async function writeRecord(dir: string, options: LayerOptions): Promise<void> {
  const files: Record<string, RecordEntry> = {};
  for (const [rel, st] of await entriesBelow(dir)) {
    const p = path.join(dir, ...rel.split('/'));
    if (st.isSymbolicLink()) files[rel] = { symlink: await fs.readlink(p) };
    else if (st.isFile()) files[rel] = await sha256File(p);
    else throw new StoreError(`A layer being written holds ${p}, which is neither a file, a directory nor a symlink.`);
  }
  const record: LayerRecord = { files, ...(options.bytecode ? { bytecode: true } : {}) };
  await fs.writeFile(path.join(dir, RECORD), `${JSON.stringify(record, null, 1)}\n`);
}

function identityPath(store: WheelStore, key: string): string {
  return path.join(store.root, 'records', 'layers', `${key}.json`);
}

async function readIdentities(store: WheelStore, key: string): Promise<Record<string, FileIdentity>> {
  try {
    const parsed = JSON.parse(await fs.readFile(identityPath(store, key), 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, FileIdentity>) : {};
  } catch {
    return {};
  }
}

async function writeIdentities(store: WheelStore, key: string, ids: Record<string, FileIdentity>): Promise<void> {
  const file = identityPath(store, key);
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(tmp, JSON.stringify(ids));
    await fs.rename(tmp, file);
  } catch {
    // A read-only store keeps no identities: its layers are hashed again at each use.
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
}

async function readLayerRecord(dir: string): Promise<LayerRecord | string> {
  const file = path.join(dir, RECORD);
  const st = await fs.lstat(file).catch(() => undefined);
  if (!st) return `it has no ${RECORD} (written by an earlier nx-pex, or damaged)`;
  if (!st.isFile() || st.size > MAX_RECORD_BYTES) return `its ${RECORD} is not a regular file of a sane size`;
  try {
    const r = JSON.parse(await fs.readFile(file, 'utf8')) as LayerRecord;
    if (typeof r !== 'object' || r === null || typeof r.files !== 'object' || r.files === null) throw new Error('no files');
    return r;
  } catch {
    return `its ${RECORD} cannot be read`;
  }
}

/**
 * Why the layer at `dir` is not what was written, or undefined when it is: every file of its
 * record there, a regular file of the recorded size whose identity is the one last verified or
 * whose sha256 is the recorded one; every symlink pointing where it did; nothing else (but byte
 * code, in a layer Python runs from). Files hashed again have their identity recorded anew.
 */
export async function verifyLayer(store: WheelStore, key: string, dir: string): Promise<string | undefined> {
  const record = await readLayerRecord(dir);
  if (typeof record === 'string') return record;
  let entries: Map<string, import('node:fs').BigIntStats>;
  try {
    entries = await entriesBelow(dir);
  } catch (e) {
    return `it cannot be listed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  entries.delete(RECORD);
  for (const rel of Object.keys(record.files)) if (!entries.has(rel)) return `${rel} is missing`;
  const known = await readIdentities(store, key);
  const seen: Record<string, FileIdentity> = {};
  let changed = false;
  for (const [rel, st] of entries) {
    const want = record.files[rel];
    const p = path.join(dir, ...rel.split('/'));
    if (!want) {
      if (record.bytecode && st.isFile() && BYTECODE.test(rel)) continue;
      return `${rel} was added after the layer was written`;
    }
    if ('symlink' in want) {
      if (!st.isSymbolicLink() || (await fs.readlink(p).catch(() => undefined)) !== want.symlink) return `${rel} is no longer the symlink it was`;
      continue;
    }
    if (!st.isFile()) return `${rel} is no longer a regular file`;
    if (Number(st.size) !== want.size) return `${rel} is ${st.size} bytes, not the ${want.size} written`;
    const id = identityOf(st);
    seen[rel] = id;
    if (known[rel] && sameIdentity(known[rel], id)) continue;
    const digest = await sha256File(p).catch(() => undefined);
    if (!digest || digest.sha256 !== want.sha256) return `${rel} has changed (sha256 ${digest?.sha256 ?? 'unreadable'}, not ${want.sha256})`;
    changed = true;
  }
  if (changed || Object.keys(known).length !== Object.keys(seen).length) await writeIdentities(store, key, seen);
  return undefined;
}

/**
 * After a build linked the layer's files into its outputs (a hard link changes a file's ctime),
 * records their identity as they are now, so that the next build does not hash them again. Only
 * files whose size, inode and mtime are the ones just verified are renewed.
 */
export async function renewLayerIdentity(store: WheelStore, key: string): Promise<void> {
  const dir = layerPath(store, key);
  const known = await readIdentities(store, key);
  let changed = false;
  for (const [rel, was] of Object.entries(known)) {
    const st = await fs.lstat(path.join(dir, ...rel.split('/')), { bigint: true }).catch(() => undefined);
    if (!st?.isFile()) continue;
    const now = identityOf(st);
    if (now.size === was.size && now.ino === was.ino && now.mtimeNs === was.mtimeNs && now.ctimeNs !== was.ctimeNs) {
      known[rel] = now;
      changed = true;
    }
  }
  if (changed) await writeIdentities(store, key, known);
}

/** Moves a damaged layer out of its key's place (removed at once, or by a later prune). */
async function discardLayer(store: WheelStore, key: string, dest: string): Promise<void> {
  const trash = path.join(store.root, 'tmp', `${key}.${process.pid}.${randomBytes(6).toString('hex')}.pruned-layer`);
  await fs.mkdir(path.dirname(trash), { recursive: true });
  await fs.rename(dest, trash).then(
    () => removeTree(trash).catch(() => undefined),
    () => removeTree(dest),
  );
  await fs.rm(identityPath(store, key), { force: true }).catch(() => undefined);
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
export async function ensureLayer(store: WheelStore, key: string, write: (dir: string) => Promise<void>, options: LayerOptions = {}): Promise<EnsuredLayer> {
  const dest = layerPath(store, key);
  await store.hold(key);
  let damaged: string | undefined;
  if (await isDir(dest)) {
    damaged = await verifyLayer(store, key, dest);
    if (damaged === undefined) {
      await touch(dest);
      return { path: dest, reused: true };
    }
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
      // Another build may have replaced a damaged layer meanwhile: verified again under the lock.
      const now = await verifyLayer(store, key, dest);
      if (now === undefined) {
        await touch(dest);
        return { path: dest, reused: true, ...(damaged !== undefined ? { damaged } : {}) };
      }
      damaged = now;
      await discardLayer(store, key, dest);
    } else if ((await fs.lstat(dest).catch(() => undefined)) !== undefined) {
      // Something that is not a directory where the layer goes: not a layer.
      damaged = 'it is not a directory';
      await fs.rm(dest, { force: true, recursive: true });
    }
    const extra = damaged !== undefined ? { damaged } : {};
    const tmp = path.join(tmpDir, `${key}.${process.pid}.${randomBytes(6).toString('hex')}.layer`);
    await fs.mkdir(tmp, { mode: 0o755 });
    try {
      await write(tmp);
      await writeRecord(tmp, options);
      await sealTree(tmp);
      try {
        await fs.rename(tmp, dest);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // Another writer (without the lock) finished first: its layer has the same bytes.
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDir(dest))) return { path: dest, reused: true, ...extra };
        throw e;
      }
      await syncDir(path.dirname(dest));
      // What was just written is what the record says: its identities are the verified ones.
      const ids: Record<string, FileIdentity> = {};
      for (const [rel, st] of await entriesBelow(dest)) if (st.isFile() && rel !== RECORD) ids[rel] = identityOf(st);
      await writeIdentities(store, key, ids);
      return { path: dest, reused: false, ...extra };
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
    // The record is bookkeeping (as the wheel store's records/), not the layer's size.
    for (const f of await filesBelow(p).catch(() => [] as string[])) if (f !== path.join(p, RECORD)) bytes += (await fs.stat(f).catch(() => ({ size: 0 }))).size;
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
    discard: async (l, trash) => {
      await removeTree(trash);
      await fs.rm(identityPath(store, l.key), { force: true }).catch(() => undefined);
    },
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
