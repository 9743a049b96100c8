/**
 * Tar archives as image layers need them: written deterministically (entries sorted by path
 * bytes, parents before children, mtime fixed, uid/gid 0, no user or group names, fixed modes,
 * PAX records for names and link targets that do not fit ustar), and read back entry by entry
 * (ustar, PAX and GNU long names) for base layers.
 */
import { ImageError } from './errors';

/** Seconds since the epoch written as every entry's mtime: 1980-01-01, as PEX files use. */
export const LAYER_MTIME = 315532800;

export type TarEntry =
  | { path: string; type: 'file'; data: Buffer; mode: number }
  | { path: string; type: 'dir'; mode: number }
  | { path: string; type: 'symlink'; target: string };

const BLOCK = 512;

function checkPath(path: string): void {
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new ImageError(`A layer cannot hold the path '${path}': it must be relative, without '.', '..' or empty segments.`);
  }
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The entries as a layer holds them: every parent directory present (mode 0755 unless given),
 * sorted by the bytes of their paths, one entry per path (a later duplicate of a file or link
 * replaces an earlier one; directories merge).
 */
export function layerEntries(entries: Iterable<TarEntry>): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const e of entries) {
    checkPath(e.path);
    const prior = byPath.get(e.path);
    if (prior && prior.type === 'dir' && e.type === 'dir') continue;
    byPath.set(e.path, e);
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const p = byPath.get(dir);
      if (!p) byPath.set(dir, { path: dir, type: 'dir', mode: 0o755 });
      else if (p.type !== 'dir') throw new ImageError(`A layer cannot hold both the file '${dir}' and '${e.path}' below it.`);
    }
  }
  return [...byPath.values()].sort((a, b) => compareBytes(a.path, b.path));
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new ImageError(`A tar header field cannot hold ${value}.`);
  buf.write(text, offset, length - 1, 'ascii');
  buf[offset + length - 1] = 0;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body, 'utf8');
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`, 'utf8');
}

function header(name: string, typeflag: string, size: number, mode: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, LAYER_MTIME);
  h.write('        ', 148, 8, 'ascii');
  h.write(typeflag, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 8, 'latin1');
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

function fits(s: string): boolean {
  return Buffer.byteLength(s, 'utf8') <= 100 && /^[\x20-\x7e]*$/.test(s);
}

/** The tar stream of already ordered entries (see `layerEntries`), block by block, with the end-of-archive marker. */
export function* tarChunks(entries: readonly TarEntry[]): Generator<Buffer> {
  for (const e of entries) yield* entryChunks(e);
  yield tarEnd();
}

/** The end-of-archive marker: two zero blocks. */
export function tarEnd(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/** One entry's blocks (a PAX header first when its name or link does not fit ustar). */
export function* entryChunks(e: TarEntry): Generator<Buffer> {
  const name = e.type === 'dir' ? `${e.path}/` : e.path;
  const linkname = e.type === 'symlink' ? e.target : '';
  const pax: Buffer[] = [];
  if (!fits(name)) pax.push(paxRecord('path', name));
  if (!fits(linkname)) pax.push(paxRecord('linkpath', linkname));
  if (pax.length > 0) {
    const body = Buffer.concat(pax);
    const paxName = `PaxHeaders/${Buffer.from(name.replace(/\/$/, '').split('/').pop()!, 'utf8').subarray(0, 80).toString('latin1').replace(/[^\x20-\x7e]/g, '_')}`;
    yield header(paxName, 'x', body.length, 0o644, '');
    yield body;
    yield padding(body.length);
  }
  const shortName = fits(name) ? name : name.slice(0, 100).replace(/[^\x20-\x7e]/g, '_');
  const shortLink = fits(linkname) ? linkname : '';
  if (e.type === 'file') {
    yield header(shortName, '0', e.data.length, e.mode & 0o7777, '');
    if (e.data.length > 0) yield e.data;
    yield padding(e.data.length);
  } else if (e.type === 'dir') {
    yield header(shortName, '5', 0, e.mode & 0o7777, '');
  } else {
    yield header(shortName, '2', 0, 0o777, shortLink);
  }
}

/** One entry of a tar being read: `data` only for regular files (when asked for). */
export interface ReadEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  mode: number;
  size: number;
  linkname: string;
  data?: Buffer;
}

function readString(buf: Buffer, offset: number, length: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 || end > offset + length ? offset + length : end);
}

function readOctal(buf: Buffer, offset: number, length: number): number {
  if (buf[offset]! & 0x80) {
    // GNU base-256 for large values.
    let v = 0;
    for (let i = offset + 1; i < offset + length; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const s = readString(buf, offset, length).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(body.toString('ascii', i, sp), 10);
    if (!(len > 0)) break;
    const rec = body.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/**
 * Reads a whole tar held in memory; `wantData(path)` says which regular files to keep the
 * bytes of. `what` names the archive in errors.
 */
export function readTar(buf: Buffer, what: string, wantData: (path: string) => boolean = () => false): ReadEntry[] {
  const out: ReadEntry[] = [];
  let offset = 0;
  let pax = new Map<string, string>();
  let globalPax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  while (offset + BLOCK <= buf.length) {
    const h = buf.subarray(offset, offset + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== readOctal(h, 148, 8)) throw new ImageError(`${what} is not a tar archive (bad header checksum at byte ${offset}).`);
    const size = readOctal(h, 124, 12);
    const typeflag = String.fromCharCode(h[156]!);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > buf.length) throw new ImageError(`${what} is truncated (an entry runs past its end).`);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const body = buf.subarray(dataStart, dataEnd);
    if (typeflag === 'x') {
      pax = parsePax(body);
      continue;
    }
    if (typeflag === 'g') {
      globalPax = parsePax(body);
      continue;
    }
    if (typeflag === 'L') {
      longName = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (typeflag === 'K') {
      longLink = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    const magic = h.toString('latin1', 257, 263);
    const prefix = magic.startsWith('ustar') ? readString(h, 345, 155) : '';
    let path = pax.get('path') ?? globalPax.get('path') ?? longName ?? (prefix ? `${prefix}/${readString(h, 0, 100)}` : readString(h, 0, 100));
    const linkname = pax.get('linkpath') ?? longLink ?? readString(h, 157, 100);
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    path = path.replace(/^(\.\/)+/, '').replace(/^\/+/, '').replace(/\/+$/, '');
    if (path === '' || path === '.') continue;
    const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'dir' : typeflag === '2' ? 'symlink' : typeflag === '1' ? 'hardlink' : 'other';
    const entry: ReadEntry = { path, type, mode: readOctal(h, 100, 8), size, linkname };
    if (type === 'file' && wantData(path)) entry.data = Buffer.from(body);
    out.push(entry);
  }
  return out;
}
