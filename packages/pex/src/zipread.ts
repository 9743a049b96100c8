/** Reading zip files (wheels, the pex runtime wheel) with yauzl. */
import yauzl from 'yauzl';

export interface ZipEntryRead {
  name: string;
  entry: yauzl.Entry;
}

/** Opens a zip file on disk, or one already read into memory. */
export function openZip(source: string | Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zf: yauzl.ZipFile) => (err ? reject(err) : resolve(zf));
    if (typeof source === 'string') yauzl.open(source, { lazyEntries: true, autoClose: false }, done);
    else yauzl.fromBuffer(source, { lazyEntries: true }, done);
  });
}

/** Every entry in central-directory order, directories included (names end with '/'). */
export function listAllEntries(zf: yauzl.ZipFile): Promise<ZipEntryRead[]> {
  return new Promise((resolve, reject) => {
    const out: ZipEntryRead[] = [];
    zf.on('entry', (entry: yauzl.Entry) => {
      out.push({ name: entry.fileName, entry });
      zf.readEntry();
    });
    zf.on('end', () => resolve(out));
    zf.on('error', reject);
    zf.readEntry();
  });
}

/**
 * An entry's bytes; with `raw`, as stored in the archive (still deflated for a deflated entry).
 * Stored (method 0) entries are read as they are: yauzl takes a `decompress` choice only for
 * compressed entries.
 */
export function readZipEntry(zf: yauzl.ZipFile, entry: yauzl.Entry, raw = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const decompress = entry.isCompressed() ? !raw : null;
    zf.openReadStream(entry, { decompress, decrypt: null, start: null, end: null }, (err, stream) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      stream!.on('data', (c: Buffer) => chunks.push(c));
      stream!.on('end', () => resolve(Buffer.concat(chunks)));
      stream!.on('error', reject);
    });
  });
}

/** Python's `ZipInfo.date_time` for an entry: (Y, M, D, h, m, s) from the DOS fields. */
export function dosDateTime(entry: yauzl.Entry): [number, number, number, number, number, number] {
  const d = entry.lastModFileDate;
  const t = entry.lastModFileTime;
  return [(d >> 9) + 1980, (d >> 5) & 0xf, d & 0x1f, t >> 11, (t >> 5) & 0x3f, (t & 0x1f) * 2];
}
