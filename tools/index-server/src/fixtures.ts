import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as yazl from 'yazl';

export interface FixtureWheelOptions {
  /** Distribution name as it appears in the file name (e.g. `my_pkg`). */
  name: string;
  version: string;
  tag?: string;
  requiresPython?: string;
  /** `Requires-Dist` lines of its METADATA, written as given (valid or not). */
  requiresDist?: string[];
  /** Extra files inside the wheel: archive path -> content. */
  files?: Record<string, string | Buffer>;
  /** Padding added to a module to make the wheel bigger (bytes of incompressible data). */
  padBytes?: number;
}

export interface FixtureFile {
  filename: string;
  path: string;
  sha256: string;
  size: number;
}

const FIXED_DATE = new Date(1980, 0, 1, 0, 0, 0);

/** Write a small, valid, deterministic wheel into `dir` (for tests and local runs). */
export async function writeFixtureWheel(dir: string, opts: FixtureWheelOptions): Promise<FixtureFile> {
  const tag = opts.tag ?? 'py3-none-any';
  const filename = `${opts.name}-${opts.version}-${tag}.whl`;
  const distInfo = `${opts.name}-${opts.version}.dist-info`;
  const pkg = opts.name.toLowerCase();
  const metadata = [
    'Metadata-Version: 2.1',
    `Name: ${opts.name}`,
    `Version: ${opts.version}`,
    ...(opts.requiresPython ? [`Requires-Python: ${opts.requiresPython}`] : []),
    ...(opts.requiresDist ?? []).map((r) => `Requires-Dist: ${r}`),
    '',
    '',
  ].join('\n');
  const entries: [string, Buffer][] = [[`${pkg}/__init__.py`, Buffer.from(`__version__ = "${opts.version}"\n`)]];
  if (opts.padBytes) {
    // Deterministic but incompressible: a hash chain.
    const chunks: Buffer[] = [];
    let h = Buffer.from(filename);
    for (let n = 0; n < opts.padBytes; n += 32) chunks.push((h = createHash('sha256').update(h).digest()));
    entries.push([`${pkg}/_pad.bin`, Buffer.concat(chunks).subarray(0, opts.padBytes)]);
  }
  for (const [p, c] of Object.entries(opts.files ?? {})) entries.push([p, Buffer.isBuffer(c) ? c : Buffer.from(c)]);
  entries.push([`${distInfo}/METADATA`, Buffer.from(metadata)]);
  entries.push([`${distInfo}/WHEEL`, Buffer.from(`Wheel-Version: 1.0\nGenerator: nx-pex-fixtures\nRoot-Is-Purelib: true\nTag: ${tag}\n`)]);
  const record = entries
    .map(([p, c]) => `${p},sha256=${createHash('sha256').update(c).digest('base64url')},${c.length}`)
    .concat(`${distInfo}/RECORD,,`)
    .join('\n');
  entries.push([`${distInfo}/RECORD`, Buffer.from(record + '\n')]);

  const zip = new yazl.ZipFile();
  for (const [p, c] of entries) zip.addBuffer(c, p, { mtime: FIXED_DATE, mode: 0o644 });
  zip.end();
  await fs.mkdir(dir, { recursive: true });
  const out = path.join(dir, filename);
  await new Promise<void>((resolve, reject) => {
    const ws = createWriteStream(out);
    ws.on('close', () => resolve());
    ws.on('error', reject);
    zip.outputStream.on('error', reject).pipe(ws);
  });
  const data = await fs.readFile(out);
  return { filename, path: out, sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}
