import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as yauzl from 'yauzl';
import { canonicalizeName, isWheelFilename, parseSdistFilename, parseWheelFilename } from '@nx-pex/pep';

/** One distribution file in the served directory. */
export interface ServedFile {
  filename: string;
  path: string;
  project: string;
  version: string;
  sha256: string;
  size: number;
  /** The wheel's `*.dist-info/METADATA`, when the file is a wheel that has one. */
  metadata?: Buffer;
  requiresPython?: string;
}

const cache = new Map<string, { key: string; file: ServedFile }>();

/** Read `*.dist-info/METADATA` (top level) out of a wheel. */
export function readWheelMetadata(wheel: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    yauzl.open(wheel, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      let found = false;
      zip.on('entry', (entry: yauzl.Entry) => {
        if (/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) {
          found = true;
          zip.openReadStream(entry, (e, stream) => {
            if (e || !stream) return reject(e);
            const chunks: Buffer[] = [];
            stream.on('data', (c: Buffer) => chunks.push(c));
            stream.on('error', reject);
            stream.on('end', () => {
              zip.close();
              resolve(Buffer.concat(chunks));
            });
          });
        } else {
          zip.readEntry();
        }
      });
      zip.on('end', () => {
        if (!found) resolve(undefined);
      });
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

function requiresPythonOf(metadata: Buffer): string | undefined {
  const head = metadata.toString('utf8').split(/\r?\n\r?\n/)[0];
  const m = /^Requires-Python:[ \t]*(.+)$/im.exec(head);
  return m ? m[1].trim() : undefined;
}

function nameOf(filename: string): { project: string; version: string } | undefined {
  if (isWheelFilename(filename)) {
    const w = parseWheelFilename(filename);
    return { project: w.name, version: w.version };
  }
  const s = parseSdistFilename(filename);
  return s ? { project: canonicalizeName(s.name), version: s.version } : undefined;
}

/** Every wheel and sdist in `dir`, with hashes (cached by size and mtime). */
export async function scanDir(dir: string): Promise<ServedFile[]> {
  const names = (await fs.readdir(dir)).sort();
  const out: ServedFile[] = [];
  for (const filename of names) {
    const id = nameOf(filename);
    if (!id) continue;
    const p = path.join(dir, filename);
    const st = await fs.stat(p);
    if (!st.isFile()) continue;
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = cache.get(p);
    if (hit && hit.key === key) {
      out.push(hit.file);
      continue;
    }
    const data = await fs.readFile(p);
    const file: ServedFile = {
      filename,
      path: p,
      ...id,
      sha256: createHash('sha256').update(data).digest('hex'),
      size: data.length,
    };
    if (filename.endsWith('.whl')) {
      file.metadata = await readWheelMetadata(p).catch(() => undefined);
      if (file.metadata) file.requiresPython = requiresPythonOf(file.metadata);
    }
    cache.set(p, { key, file });
    out.push(file);
  }
  return out;
}
