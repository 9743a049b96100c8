/**
 * A wheel made from a release's recorded core metadata alone: `.dist-info/METADATA`, `WHEEL` (its
 * tags taken from the filename) and `RECORD`, in a stored (uncompressed) zip with fixed times, so
 * that the same metadata always gives the same bytes and sha256. It installs nothing but is a valid
 * wheel, for index tests that need files behind the hashes a page lists.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The `.dist-info` directory of a wheel file name: `{distribution}-{version}.dist-info`. */
function distInfo(filename: string): string {
  const [name, version] = filename.split('-');
  return `${name}-${version}.dist-info`;
}

/** The WHEEL file: every tag the filename's compressed tag set expands to. */
function wheelFile(filename: string): string {
  const parts = filename.slice(0, -'.whl'.length).split('-');
  const [py, abi, plat] = parts.slice(-3) as [string, string, string];
  const lines = ['Wheel-Version: 1.0', 'Generator: nx-pex-test (synthesised)', `Root-Is-Purelib: ${abi === 'none' && plat === 'any' ? 'true' : 'false'}`];
  for (const p of py.split('.')) for (const a of abi.split('.')) for (const pl of plat.split('.')) lines.push(`Tag: ${p}-${a}-${pl}`);
  return `${lines.join('\n')}\n`;
}

function recordHash(data: Buffer): string {
  return `sha256=${createHash('sha256').update(data).digest('base64url')}`;
}

/** A stored zip of `entries` (name -> bytes), entries in the given order, all dated 1980-01-01. */
function storedZip(entries: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The wheel `filename` with `metadata` as its core metadata. */
export function synthesizeWheel(filename: string, metadata: string): Buffer {
  const dir = distInfo(filename);
  const files: [string, Buffer][] = [
    [`${dir}/METADATA`, Buffer.from(metadata, 'utf8')],
    [`${dir}/WHEEL`, Buffer.from(wheelFile(filename), 'utf8')],
  ];
  const record = [...files.map(([name, data]) => `${name},${recordHash(data)},${data.length}`), `${dir}/RECORD,,`, ''].join('\n');
  return storedZip([...files, [`${dir}/RECORD`, Buffer.from(record, 'utf8')]]);
}
