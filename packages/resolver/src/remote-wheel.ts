/**
 * The METADATA of a wheel on a server without PEP 658 metadata files, read with byte ranges (as
 * pip's lazy wheels and uv do): the end of the file (the zip's central directory, and usually the
 * `.dist-info` files, which wheels keep last) in one request, then the METADATA entry if it lies
 * before that. A candidate tried and dropped during resolution then costs a few kilobytes, not the
 * whole wheel.
 */
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { parseWheelFilename } from '@nx-pex/pep';
import type { IndexClient } from '@nx-pex/index';
import { isMetadataEntry } from './wheel-metadata';

/**
 * How much of the end of a wheel the first request asks for: at least what a zip reader searches
 * for the end-of-central-directory record (22 bytes and a comment of up to 65535).
 */
const TAIL_BYTES = 65 * 1024;
/** A METADATA entry bigger than this is not worth reading by ranges. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;
/** The least a Range request for an entry asks for (its local header, name and, usually, data). */
const WINDOW_BYTES = 16 * 1024;
const MAX_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Serves yauzl's reads from the fetched tail, and the rest by Range requests of at least
 * `WINDOW_BYTES`, kept for the reads that follow (an entry's local header, its name, its data).
 */
class RangeReader extends yauzl.RandomAccessReader {
  private windows: { start: number; data: Buffer }[];
  private window = WINDOW_BYTES;

  constructor(
    private readonly client: IndexClient,
    private readonly url: string,
    private readonly size: number,
    tailStart: number,
    tail: Buffer,
  ) {
    super();
    this.windows = [{ start: tailStart, data: tail }];
  }

  private async bytes(start: number, end: number): Promise<Buffer> {
    const held = this.windows.find((w) => start >= w.start && end <= w.start + w.data.length);
    if (held) return held.data.subarray(start - held.start, end - held.start);
    // Reads that go on where the last request ended (a central directory bigger than the tail)
    // ask for twice as much each time.
    const previous = this.windows[this.windows.length - 1]!;
    this.window = start === previous.start + previous.data.length ? Math.min(this.window * 2, MAX_WINDOW_BYTES) : WINDOW_BYTES;
    const last = Math.min(this.size, Math.max(end, start + this.window)) - 1;
    const data = await this.client.getRange(this.url, start, last);
    this.windows.push({ start, data });
    return data.subarray(0, end - start);
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const read = () => this.bytes(start, end);
    return Readable.from(
      (async function* () {
        if (end > start) yield await read();
      })(),
    );
  }
}

function readMetadata(reader: RangeReader, size: number, project: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(reader, size, { lazyEntries: true, autoClose: false }, (err, zf) => {
      if (err || !zf) return reject(err ?? new Error('cannot open'));
      let done = false;
      const finish = (e: Error | null, value?: Buffer) => {
        if (done) return;
        done = true;
        zf.close();
        if (e) reject(e);
        else resolve(value);
      };
      zf.on('entry', (entry: yauzl.Entry) => {
        if (!isMetadataEntry(entry.fileName, project)) return zf.readEntry();
        if (entry.uncompressedSize > MAX_METADATA_BYTES) return finish(null, undefined);
        zf.openReadStream(entry, (e, stream) => {
          if (e || !stream) return finish(e ?? new Error('cannot read'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => finish(null, Buffer.concat(chunks)));
          stream.on('error', (x: Error) => finish(x));
        });
      });
      zf.on('end', () => finish(null, undefined));
      zf.on('error', (e: Error) => finish(e));
      zf.readEntry();
    });
  });
}

/**
 * The METADATA text of the wheel at `url` read by byte ranges, or undefined when the server does
 * not take ranges, the wheel is small, or it cannot be read so (then the caller downloads it whole).
 */
export async function readRemoteWheelMetadata(client: IndexClient, url: string, filename: string): Promise<string | undefined> {
  try {
    const size = await client.rangeSize(url);
    // A wheel no bigger than the tail is as cheap to download whole (verified, into the store).
    if (size === undefined || size <= TAIL_BYTES) return undefined;
    const tailStart = Math.max(0, size - TAIL_BYTES);
    const tail = await client.getRange(url, tailStart, size - 1);
    const data = await readMetadata(new RangeReader(client, url, size, tailStart, tail), size, parseWheelFilename(filename).name);
    return data?.toString('utf8');
  } catch {
    return undefined;
  }
}
