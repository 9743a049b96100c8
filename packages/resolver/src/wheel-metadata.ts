/** Reading the METADATA file out of a wheel on disk. */
import yauzl from 'yauzl';
import { canonicalizeName, parseWheelFilename, UserError } from '@nx-pex/pep';

function readEntry(path: string, want: (name: string) => boolean): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zf) => {
      if (err || !zf) return reject(err ?? new Error('cannot open'));
      let found = false;
      zf.on('entry', (entry: yauzl.Entry) => {
        if (found || !want(entry.fileName)) return zf.readEntry();
        found = true;
        zf.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('cannot read'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            zf.close();
            resolve(Buffer.concat(chunks));
          });
          stream.on('error', reject);
        });
      });
      zf.on('end', () => {
        if (!found) resolve(undefined);
      });
      zf.on('error', reject);
      zf.readEntry();
    });
  });
}

/** Whether a wheel's entry is `<name>-<version>.dist-info/METADATA` of the (canonical) `project`. */
export function isMetadataEntry(name: string, project: string): boolean {
  const parts = name.split('/');
  return (
    parts.length === 2 &&
    parts[1] === 'METADATA' &&
    parts[0]!.endsWith('.dist-info') &&
    canonicalizeName(parts[0]!.slice(0, -'.dist-info'.length).split('-')[0]!) === project
  );
}

/** The `<name>-<version>.dist-info/METADATA` of the wheel at `path` (named `filename`). */
export async function readWheelMetadata(path: string, filename: string): Promise<string> {
  const w = parseWheelFilename(filename);
  let data: Buffer | undefined;
  try {
    data = await readEntry(path, (name) => isMetadataEntry(name, w.name));
  } catch (e) {
    throw new UserError(`${filename} is not a readable wheel (${(e as Error).message}).`);
  }
  if (!data) throw new UserError(`${filename} has no ${w.distribution}-${w.version}.dist-info/METADATA, so it is not a valid wheel.`);
  return data.toString('utf8');
}
