/**
 * A remote wheel's METADATA read with HTTP range requests, as uv does when an index offers no
 * PEP 658 metadata file: the zip's end records and central directory from the file's tail, then
 * the one entry. Most wheels write their .dist-info last, so one request often holds everything.
 */
import * as zlib from 'node:zlib';
import type { IndexClient } from '@nx-pex/index';
import { redactUrl } from '@nx-pex/index';
import { UserError } from '@nx-pex/pep';
import { isMetadataEntry } from './wheel-metadata';

/** Bytes asked for first: end records plus, for most wheels, the central directory and .dist-info. */
const TAIL_BYTES = 64 * 1024;

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** A window of the remote file: `bytes` starts at `start`. */
interface Window {
  bytes: Buffer;
  start: number;
}

class Remote {
  requests = 0;
  private readonly windows: Window[] = [];

  constructor(
    private readonly client: IndexClient,
    private readonly url: string,
  ) {}

  /** The last bytes of the file, and its size; undefined when the server takes no ranges. */
  async tail(): Promise<{ window: Window; total: number } | undefined> {
    this.requests++;
    const got = await this.client.fetchRange(this.url, `bytes=-${TAIL_BYTES}`);
    if (!got) return undefined;
    const window = { bytes: got.bytes, start: got.start };
    this.windows.push(window);
    return { window, total: got.total };
  }

  /** Bytes [start, start + length) of the file, from a window already read or by one more request. */
  async read(start: number, length: number): Promise<Buffer> {
    for (const w of this.windows) {
      if (start >= w.start && start + length <= w.start + w.bytes.length) return w.bytes.subarray(start - w.start, start - w.start + length);
    }
    this.requests++;
    const got = await this.client.fetchRange(this.url, `bytes=${start}-${start + length - 1}`);
    if (!got || got.start !== start || got.bytes.length !== length) throw new Error(`the server did not return bytes ${start}-${start + length - 1}`);
    this.windows.push({ bytes: got.bytes, start });
    return got.bytes;
  }
}

interface CentralEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** Where the central directory is, from the end records at the file's tail. */
async function centralDirectory(remote: Remote, tail: Window, total: number): Promise<{ offset: number; size: number; count: number }> {
  const b = tail.bytes;
  let at = -1;
  for (let i = b.length - 22; i >= 0 && i >= b.length - 22 - 0xffff; i--) {
    if (b.readUInt32LE(i) === EOCD && i + 22 + b.readUInt16LE(i + 20) <= b.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new Error('no end of central directory record');
  let count = b.readUInt16LE(at + 10);
  let size = b.readUInt32LE(at + 12);
  let offset = b.readUInt32LE(at + 16);
  if (at >= 20 && b.readUInt32LE(at - 20) === ZIP64_LOCATOR) {
    const recordAt = Number(b.readBigUInt64LE(at - 20 + 8));
    const rec = await remote.read(recordAt, 56);
    if (rec.readUInt32LE(0) !== ZIP64_EOCD) throw new Error('a damaged zip64 end record');
    count = Number(rec.readBigUInt64LE(32));
    size = Number(rec.readBigUInt64LE(40));
    offset = Number(rec.readBigUInt64LE(48));
  }
  if (offset + size > total) throw new Error('the central directory lies outside the file');
  return { offset, size, count };
}

function parseCentral(cd: Buffer, count: number): CentralEntry[] {
  const out: CentralEntry[] = [];
  let p = 0;
  for (let n = 0; n < count && p + 46 <= cd.length; n++) {
    if (cd.readUInt32LE(p) !== CENTRAL) throw new Error('a damaged central directory');
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const entry: CentralEntry = {
      name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      method: cd.readUInt16LE(p + 10),
      crc: cd.readUInt32LE(p + 16),
      compressedSize: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      localOffset: cd.readUInt32LE(p + 42),
    };
    // ZIP64 extra field: the 64-bit values of the fields saturated above, in this order.
    let e = p + 46 + nameLen;
    const end = e + extraLen;
    while (e + 4 <= end) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          const v = Number(cd.readBigUInt64LE(q));
          q += 8;
          return v;
        };
        if (entry.size === 0xffffffff) entry.size = take();
        if (entry.compressedSize === 0xffffffff) entry.compressedSize = take();
        if (entry.localOffset === 0xffffffff) entry.localOffset = take();
      }
      e += 4 + len;
    }
    out.push(entry);
    p = end + commentLen;
  }
  return out;
}

/**
 * The METADATA text of the wheel `filename` at `url`, read by range requests; undefined when the
 * server answers ranges with the whole file (then the caller downloads it). A wheel whose zip
 * structure cannot be read this way is an error naming the URL.
 */
export async function readRemoteWheelMetadata(client: IndexClient, url: string, filename: string): Promise<{ text: string; requests: number } | undefined> {
  const remote = new Remote(client, url);
  const tail = await remote.tail();
  if (!tail) return undefined;
  try {
    const cd = await centralDirectory(remote, tail.window, tail.total);
    const entries = parseCentral(await remote.read(cd.offset, cd.size), cd.count);
    const entry = entries.find((x) => isMetadataEntry(x.name, filename));
    if (!entry) throw new Error('no .dist-info/METADATA entry');
    // The local header's extra field may differ from the central one: read the fixed part first.
    const head = await remote.read(entry.localOffset, 30);
    if (head.readUInt32LE(0) !== LOCAL) throw new Error('a damaged local header');
    const dataAt = entry.localOffset + 30 + head.readUInt16LE(26) + head.readUInt16LE(28);
    const raw = await remote.read(dataAt, entry.compressedSize);
    let data: Buffer;
    if (entry.method === 0) data = raw;
    else if (entry.method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`METADATA is stored with compression method ${entry.method}`);
    if (data.length !== entry.size || zlib.crc32(data) !== entry.crc) throw new Error('METADATA does not match its CRC-32');
    return { text: data.toString('utf8'), requests: remote.requests };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${redactUrl(url)} is not a readable wheel (${(e as Error).message}); check that the index serves this file whole and unchanged.`);
  }
}
