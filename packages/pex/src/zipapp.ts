/**
 * Writes the zipapp container: a `#!` line followed by a zip whose entries come in pex's order
 * (sorted paths, ancestor directory entries written lazily before the first file below them),
 * with 1980-01-01 timestamps, fixed modes, and central-directory offsets that count the prefix.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { posix } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { PexError, UserError } from './errors';
import { pyCompare } from './python';

export type ZipSource =
  | { kind: 'buffer'; data: Buffer }
  /** Streamed from disk; `sha256` is checked while streaming so the bytes match their hash. */
  | { kind: 'file'; path: string; size: number; sha256: string; what: string };

export interface ZipItem {
  path: string;
  /** Entries sort by `group ?? path`; entries of one group keep the order they are given in. */
  group?: string;
  executable: boolean;
  compress: boolean;
  source: ZipSource;
}

/** 1980-01-01 00:00:00 in local time: yazl converts local time to the DOS date/time fields. */
const DOS_EPOCH = new Date(1980, 0, 1, 0, 0, 0);
const MAX_ENTRIES = 0xffff;
const MAX_32 = 0xffffffff;

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CDH_SIG = 0x02014b50;
const MSDOS_DIR = 0x10;

/** Checks the bytes passing through against an expected sha256. */
class Sha256Check extends Transform {
  private readonly hash = createHash('sha256');
  constructor(
    private readonly expected: string,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual !== this.expected.toLowerCase()) {
      cb(new UserError(`${this.what} changed or is corrupt: expected sha256 ${this.expected}, read ${actual}`));
    } else cb();
  }
}

export function zip64Error(outputPath: string, why: string): PexError {
  return new PexError(
    `${outputPath}: the zipapp would need ZIP64 (${why}), which zipimport before Python 3.13 cannot read. ` +
      `Build this PEX with the packed layout instead.`,
  );
}

/** Every entry the zip will hold, in order: ancestor directories (trailing '/') and files. */
function zipEntryOrder(items: readonly ZipItem[]): Array<{ dir: string } | { item: ZipItem }> {
  const out: Array<{ dir: string } | { item: ZipItem }> = [];
  const written = new Set<string>();
  const ensureParents = (path: string) => {
    const parent = posix.dirname(path);
    if (parent === '.' || parent === '' || written.has(parent)) return;
    ensureParents(parent);
    out.push({ dir: `${parent}/` });
    written.add(parent);
  };
  for (const item of [...items].sort((a, b) => pyCompare(a.group ?? a.path, b.group ?? b.path))) {
    ensureParents(item.path);
    out.push({ item });
  }
  return out;
}

/**
 * Writes `prefix` and the zip of `items` to `tmpPath` (created exclusively). Returns the file size.
 * The caller owns `tmpPath`: on error it is left for the caller to delete.
 */
export async function writeZipapp(
  tmpPath: string,
  outputPath: string,
  prefix: Buffer,
  items: readonly ZipItem[],
): Promise<number> {
  const order = zipEntryOrder(items);
  if (order.length >= MAX_ENTRIES) throw zip64Error(outputPath, `${order.length} entries`);
  let storedBytes = prefix.length;
  for (const { source, compress, path } of items) {
    const size = source.kind === 'buffer' ? source.data.length : source.size;
    if (size >= MAX_32 - 1) throw zip64Error(outputPath, `${path} is ${size} bytes`);
    if (!compress) storedBytes += size;
  }
  if (storedBytes >= MAX_32) throw zip64Error(outputPath, `${storedBytes} bytes of stored entries`);

  const ws = createWriteStream(tmpPath, { flags: 'wx', mode: 0o644 });
  await once(ws, 'open');
  let fail!: (e: Error) => void;
  const failure = new Promise<never>((_, reject) => (fail = reject));
  failure.catch(() => undefined); // a late error after success must not become unhandled
  const openStreams = new Set<NodeJS.ReadableStream & { destroy(): void }>();
  try {
    ws.write(prefix);
    const zip = new yazl.ZipFile();
    zip.on('error', (e: Error) => fail(e));
    const written = pipeline(zip.outputStream, ws);
    written.catch(() => undefined);
    for (const entry of order) {
      if ('dir' in entry) {
        zip.addEmptyDirectory(entry.dir, { mtime: DOS_EPOCH, mode: 0o40755, forceDosTimestamp: true });
        continue;
      }
      const { item } = entry;
      const options = {
        mtime: DOS_EPOCH,
        mode: item.executable ? 0o100755 : 0o100644,
        compress: item.compress,
        forceDosTimestamp: true,
      };
      const source = item.source;
      if (source.kind === 'buffer') {
        zip.addBuffer(source.data, item.path, options);
      } else {
        zip.addReadStreamLazy(item.path, { ...options, size: source.size }, (cb) => {
          const input = createReadStream(source.path);
          const check = new Sha256Check(source.sha256, source.what);
          openStreams.add(input);
          input.on('error', (e) => fail(new UserError(`Cannot read ${source.what} (${source.path}): ${e.message}`)));
          input.on('close', () => openStreams.delete(input));
          check.on('error', (e) => fail(e));
          cb(null, input.pipe(check));
        });
      }
    }
    zip.end();
    await Promise.race([written, failure]);
  } catch (e) {
    for (const s of openStreams) s.destroy();
    if (!ws.closed) {
      ws.destroy();
      await once(ws, 'close').catch(() => undefined);
    }
    throw e;
  }
  return await absolutizeOffsets(tmpPath, outputPath, prefix.length);
}

/**
 * yazl counts offsets from the start of its own output; shift every local-header offset in the
 * central directory and the central directory's offset in the end record by the prefix length,
 * so offsets are absolute file offsets as in pex's zipapps. Also marks directory entries with
 * the MS-DOS directory attribute, as Python's zipfile does.
 */
async function absolutizeOffsets(path: string, outputPath: string, shift: number): Promise<number> {
  const fh = await open(path, 'r+');
  try {
    const { size } = await fh.stat();
    const eocd = Buffer.alloc(22);
    await fh.read(eocd, 0, 22, size - 22);
    if (eocd.readUInt32LE(0) !== EOCD_SIG || eocd.readUInt16LE(20) !== 0) {
      throw new Error(`zip writer produced an unexpected end record in ${path}`);
    }
    if (size >= 42) {
      const loc = Buffer.alloc(4);
      await fh.read(loc, 0, 4, size - 22 - 20);
      if (loc.readUInt32LE(0) === ZIP64_LOCATOR_SIG) throw zip64Error(outputPath, 'ZIP64 end records were needed');
    }
    const count = eocd.readUInt16LE(10);
    const cdSize = eocd.readUInt32LE(12);
    const cdOffset = eocd.readUInt32LE(16);
    if (cdOffset + shift >= MAX_32 || cdSize >= MAX_32) throw zip64Error(outputPath, `the archive is ${size} bytes`);
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset + shift);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== CDH_SIG) throw new Error(`zip writer produced a malformed central directory in ${path}`);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      if (extraLen !== 0) throw zip64Error(outputPath, 'an entry needed ZIP64 extra fields');
      const offset = cd.readUInt32LE(p + 42) + shift;
      if (offset >= MAX_32) throw zip64Error(outputPath, `an entry starts at byte ${offset}`);
      cd.writeUInt32LE(offset, p + 42);
      const name = cd.subarray(p + 46, p + 46 + nameLen);
      if (name[name.length - 1] === 0x2f) cd.writeUInt32LE((cd.readUInt32LE(p + 38) | MSDOS_DIR) >>> 0, p + 38);
      p += 46 + nameLen + extraLen + commentLen;
    }
    eocd.writeUInt32LE(cdOffset + shift, 16);
    await fh.write(cd, 0, cdSize, cdOffset + shift);
    await fh.write(eocd, 0, 22, size - 22);
    await fh.sync();
    return size;
  } finally {
    await fh.close();
  }
}
