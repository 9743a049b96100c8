/**
 * Writes the zipapp container: a `#!` line followed by a zip whose entries come in pex's order
 * (sorted paths, ancestor directory entries written lazily before the first file below them),
 * with 1980-01-01 timestamps, fixed modes, and offsets counted from the start of the file, as
 * Python's `zipfile` writes them for pex.
 *
 * Every size and CRC-32 is known before an entry's local header is written (wheels are copied
 * in large blocks and their header patched afterwards), so no data descriptors are needed, and
 * data that comes already deflated (the pex runtime) is copied as it is.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { hasIdentity, type FileIdentity } from '@nx-pex/fs';
import { PexError, UserError } from './errors';
import { pyCompare } from './python';

export type ZipSource =
  /** Bytes in memory; `crc32` and `deflated` (raw deflate of `data`) may be given when known. */
  | { kind: 'buffer'; data: Buffer; crc32?: number; deflated?: Buffer }
  /**
   * Read from disk. With `sha256`, the bytes read are checked against it; without, the file is
   * trusted (a verified content-addressed store file) and only its size is checked. With
   * `identity` too, the sha256 is not computed while the opened file still has that identity
   * (as the store recorded it when it verified the file).
   */
  | { kind: 'file'; path: string; size: number; sha256?: string; identity?: FileIdentity; what: string };


export interface ZipItem {
  path: string;
  /** Entries sort by `group ?? path`; entries of one group keep the order they are given in. */
  group?: string;
  executable: boolean;
  compress: boolean;
  source: ZipSource;
}

const MAX_ENTRIES = 0xffff;
const MAX_32 = 0xffffffff;

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
/** Version 2.0 (deflate, directories), made on Unix: what Python's zipfile writes. */
const VERSION_NEEDED = 20;
const VERSION_MADE_BY = (3 << 8) | 20;
const FLAG_UTF8 = 0x800;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
/** DOS date of 1980-01-01 (time 00:00:00 is 0). */
const DOS_DATE_1980 = (0 << 9) | (1 << 5) | 1;
const MSDOS_DIR = 0x10;
const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
/** Output is gathered in memory up to this size; larger pieces are written straight through. */
const WRITE_BUFFER = 1 << 20;
/** Block size for copying files into the archive. */
const COPY_BLOCK = 8 << 20;

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

/** Sequential writer over a file handle that gathers small pieces into one buffer. */
class Output {
  private readonly buf = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  /** File position of `buf[0]`. */
  private flushedTo = 0;

  constructor(readonly fh: FileHandle) {}

  /** Position of the next byte. */
  get offset(): number {
    return this.flushedTo + this.used;
  }

  async put(data: Buffer): Promise<void> {
    if (this.used + data.length > this.buf.length) await this.flush();
    if (data.length >= this.buf.length) {
      await writeFully(this.fh, data, this.flushedTo);
      this.flushedTo += data.length;
      return;
    }
    data.copy(this.buf, this.used);
    this.used += data.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await writeFully(this.fh, this.buf.subarray(0, this.used), this.flushedTo);
    this.flushedTo += this.used;
    this.used = 0;
  }

  /** Moves the write position past bytes written directly with `fh` (after a `flush`). */
  skip(n: number): void {
    if (this.used !== 0) throw new Error('Output.skip with unflushed data');
    this.flushedTo += n;
  }
}

async function writeFully(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

interface CentralRecord {
  name: Buffer;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  externalAttr: number;
  offset: number;
}

function localHeader(r: CentralRecord): Buffer {
  const h = Buffer.alloc(LOCAL_HEADER_SIZE + r.name.length);
  h.writeUInt32LE(LOCAL_SIG, 0);
  h.writeUInt16LE(VERSION_NEEDED, 4);
  h.writeUInt16LE(r.flags, 6);
  h.writeUInt16LE(r.method, 8);
  h.writeUInt16LE(0, 10);
  h.writeUInt16LE(DOS_DATE_1980, 12);
  h.writeUInt32LE(r.crc, 14);
  h.writeUInt32LE(r.compressedSize, 18);
  h.writeUInt32LE(r.size, 22);
  h.writeUInt16LE(r.name.length, 26);
  h.writeUInt16LE(0, 28);
  r.name.copy(h, LOCAL_HEADER_SIZE);
  return h;
}

function centralDirectory(records: readonly CentralRecord[]): Buffer {
  let size = 0;
  for (const r of records) size += CENTRAL_HEADER_SIZE + r.name.length;
  const cd = Buffer.alloc(size);
  let p = 0;
  for (const r of records) {
    cd.writeUInt32LE(CENTRAL_SIG, p);
    cd.writeUInt16LE(VERSION_MADE_BY, p + 4);
    cd.writeUInt16LE(VERSION_NEEDED, p + 6);
    cd.writeUInt16LE(r.flags, p + 8);
    cd.writeUInt16LE(r.method, p + 10);
    cd.writeUInt16LE(0, p + 12);
    cd.writeUInt16LE(DOS_DATE_1980, p + 14);
    cd.writeUInt32LE(r.crc, p + 16);
    cd.writeUInt32LE(r.compressedSize, p + 20);
    cd.writeUInt32LE(r.size, p + 24);
    cd.writeUInt16LE(r.name.length, p + 28);
    // extra length, comment length, disk number, internal attributes: all 0.
    cd.writeUInt32LE(r.externalAttr >>> 0, p + 38);
    cd.writeUInt32LE(r.offset, p + 42);
    r.name.copy(cd, p + CENTRAL_HEADER_SIZE);
    p += CENTRAL_HEADER_SIZE + r.name.length;
  }
  return cd;
}

function endRecord(count: number, cdSize: number, cdOffset: number): Buffer {
  const e = Buffer.alloc(22);
  e.writeUInt32LE(EOCD_SIG, 0);
  e.writeUInt16LE(count, 8);
  e.writeUInt16LE(count, 10);
  e.writeUInt32LE(cdSize, 12);
  e.writeUInt32LE(cdOffset, 16);
  return e;
}

function entryName(path: string): { name: Buffer; flags: number } {
  const name = Buffer.from(path, 'utf8');
  // Python's zipfile marks names that are not plain ASCII as UTF-8.
  return { name, flags: name.length === path.length && !/[^\x00-\x7f]/.test(path) ? 0 : FLAG_UTF8 };
}

/** A file that no longer is what the build was told (edited during the build, or a damaged store file). */
export function changedError(what: string, path: string, detail: string): UserError {
  return new UserError(
    `${what} (${path}) changed or is corrupt: ${detail}. Build again; if the file is in the wheel store, delete it first so that it is fetched again.`,
  );
}

/** Reads a whole file source, checking its size and, when given, its sha256. */
export async function readFileSource(source: Extract<ZipSource, { kind: 'file' }>): Promise<Buffer> {
  let unchanged = false;
  const data = await (async () => {
    const fh = await open(source.path, 'r');
    try {
      if (source.identity) unchanged = hasIdentity(await fh.stat({ bigint: true }), source.identity);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  })().catch((e: Error) => {
    throw new UserError(`Cannot read ${source.what} (${source.path}): ${e.message}`);
  });
  if (data.length !== source.size) throw changedError(source.what, source.path, `expected ${source.size} bytes, read ${data.length}`);
  if (source.sha256 !== undefined && !unchanged) {
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== source.sha256.toLowerCase()) throw changedError(source.what, source.path, `expected sha256 ${source.sha256}, read ${actual}`);
  }
  return data;
}

/**
 * Copies a file into the archive at the output's position in `COPY_BLOCK` pieces, returning its
 * CRC-32. Two blocks alternate so that reading the next piece overlaps writing the last one. The
 * size is checked, and the sha256 when the source names one.
 */
async function copyStored(out: Output, source: Extract<ZipSource, { kind: 'file' }>, blocks: [Buffer, Buffer]): Promise<number> {
  let input: FileHandle;
  try {
    input = await open(source.path, 'r');
  } catch (e) {
    throw new UserError(`Cannot read ${source.what} (${source.path}): ${(e as Error).message}`);
  }
  let hash: Hash | undefined = source.sha256 !== undefined ? createHash('sha256') : undefined;
  // A store file still as the store verified it is not hashed again.
  if (hash && source.identity) {
    const st = await input.stat({ bigint: true }).catch(() => undefined);
    if (st && hasIdentity(st, source.identity)) hash = undefined;
  }
  const start = out.offset;
  let crc = 0;
  let copied = 0;
  let writing: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; ; i++) {
      const block = blocks[i % 2]!;
      const { bytesRead } = await input.read(block, 0, block.length, copied);
      if (bytesRead === 0) break;
      if (copied + bytesRead > source.size) throw changedError(source.what, source.path, `it is now larger than ${source.size} bytes`);
      const piece = block.subarray(0, bytesRead);
      crc = crc32(piece, crc);
      hash?.update(piece);
      await writing;
      writing = writeFully(out.fh, piece, start + copied);
      copied += bytesRead;
    }
    await writing;
  } catch (e) {
    await writing.catch(() => undefined);
    if (e instanceof UserError) throw e;
    throw new UserError(`Cannot copy ${source.what} (${source.path}): ${(e as Error).message}`);
  } finally {
    await input.close();
  }
  if (copied !== source.size) throw changedError(source.what, source.path, `expected ${source.size} bytes, read ${copied}`);
  if (hash) {
    const actual = hash.digest('hex');
    if (actual !== source.sha256!.toLowerCase()) throw changedError(source.what, source.path, `expected sha256 ${source.sha256}, read ${actual}`);
  }
  out.skip(copied);
  return crc >>> 0;
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

  const fh = await open(tmpPath, 'wx', 0o644);
  try {
    const out = new Output(fh);
    await out.put(prefix);
    const records: CentralRecord[] = [];
    let blocks: [Buffer, Buffer] | undefined;
    const checkOffset = (at: number, what: string) => {
      if (at >= MAX_32) throw zip64Error(outputPath, `${what} would start at byte ${at}`);
    };
    for (const entry of order) {
      const offset = out.offset;
      if ('dir' in entry) {
        checkOffset(offset, entry.dir);
        const { name, flags } = entryName(entry.dir);
        const r: CentralRecord = { name, flags, method: METHOD_STORED, crc: 0, compressedSize: 0, size: 0, offset, externalAttr: ((0o40755 << 16) | MSDOS_DIR) >>> 0 };
        records.push(r);
        await out.put(localHeader(r));
        continue;
      }
      const { item } = entry;
      checkOffset(offset, item.path);
      const { name, flags } = entryName(item.path);
      const externalAttr = ((item.executable ? 0o100755 : 0o100644) << 16) >>> 0;
      const source = item.source;
      if (source.kind === 'file' && !item.compress) {
        // Written straight from the file: the header's CRC-32 is filled in once the data is copied.
        const r: CentralRecord = { name, flags, method: METHOD_STORED, crc: 0, compressedSize: source.size, size: source.size, offset, externalAttr };
        records.push(r);
        await out.put(localHeader(r));
        await out.flush();
        blocks ??= [Buffer.allocUnsafe(COPY_BLOCK), Buffer.allocUnsafe(COPY_BLOCK)];
        r.crc = await copyStored(out, source, blocks);
        const crcField = Buffer.alloc(4);
        crcField.writeUInt32LE(r.crc, 0);
        await writeFully(fh, crcField, offset + 14);
        continue;
      }
      let data: Buffer;
      let crc: number;
      let deflated: Buffer | undefined;
      if (source.kind === 'buffer') {
        data = source.data;
        crc = source.crc32 ?? crc32(data);
        deflated = source.deflated;
      } else {
        data = await readFileSource(source);
        crc = crc32(data);
      }
      const body = item.compress ? (deflated ?? deflateRawSync(data)) : data;
      const r: CentralRecord = {
        name,
        flags,
        method: item.compress ? METHOD_DEFLATED : METHOD_STORED,
        crc: crc >>> 0,
        compressedSize: body.length,
        size: data.length,
        offset,
        externalAttr,
      };
      if (body.length >= MAX_32) throw zip64Error(outputPath, `${item.path} is ${body.length} bytes compressed`);
      records.push(r);
      await out.put(localHeader(r));
      await out.put(body);
    }
    const cdOffset = out.offset;
    const cd = centralDirectory(records);
    if (cdOffset >= MAX_32 || cdOffset + cd.length >= MAX_32) throw zip64Error(outputPath, `the archive is ${cdOffset + cd.length} bytes`);
    await out.put(cd);
    await out.put(endRecord(records.length, cd.length, cdOffset));
    await out.flush();
    return out.offset;
  } finally {
    await fh.close();
  }
}
