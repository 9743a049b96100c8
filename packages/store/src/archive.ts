import * as yauzl from 'yauzl';
import { UserError } from '@nx-pex/pep';

/** A downloaded wheel that is not a readable zip archive, or has an entry that would escape its directory. */
export class BadArchiveError extends UserError {
  constructor(
    readonly filename: string,
    readonly url: string,
    readonly reason: string,
  ) {
    super(
      `${filename} from ${url} is not a usable wheel: ${reason}. It was not added to the store; ` +
        `the file on the index is broken or not what its name says.`,
    );
  }
}

/** Whether an archive member name stays inside the directory it is extracted to. */
export function isSafeEntryName(name: string): boolean {
  if (!name || name.includes('\0') || name.includes('\\')) return false;
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return false;
  return !name.split('/').some((part) => part === '..');
}

/**
 * Read the whole central directory of the zip at `file` and check every
 * entry name. Throws BadArchiveError naming `filename` and `url`.
 */
export function checkZipArchive(file: string, filename: string, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Names are checked here rather than by yauzl so the message can say which entry.
    yauzl.open(file, { lazyEntries: true, autoClose: true, validateEntrySizes: true, decodeStrings: false }, (err, zip) => {
      if (err || !zip) return reject(new BadArchiveError(filename, url, `it is not a zip archive (${err?.message ?? 'unreadable'})`));
      let failed = false;
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = (entry.fileName as unknown as Buffer).toString('utf8');
        if (!isSafeEntryName(name)) {
          failed = true;
          zip.close();
          return reject(new BadArchiveError(filename, url, `its entry ${JSON.stringify(name)} would be written outside the install directory`));
        }
        zip.readEntry();
      });
      zip.on('end', () => {
        if (!failed) resolve();
      });
      zip.on('error', (e: Error) => {
        if (failed) return;
        failed = true;
        reject(new BadArchiveError(filename, url, `its zip directory is corrupt (${e.message})`));
      });
      zip.readEntry();
    });
  });
}
