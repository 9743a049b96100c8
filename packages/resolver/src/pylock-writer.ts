/**
 * A PEP 751 `pylock.toml` writer for resolutions. packages/lock is getting the full pylock reader
 * and writer (`pylock*.ts`); this small writer exists only so that `nx-pex lock` can write its
 * output until then, and should be replaced by that writer when both are merged.
 */

export interface PylockFile {
  /** File name of the wheel or sdist. */
  name: string;
  url?: string;
  /** For local files, relative to the lock's directory. */
  path?: string;
  size?: number;
  sha256: string;
}

export interface PylockPackage {
  name: string;
  version?: string;
  /** PEP 508 marker under which the package is needed; undefined: always. */
  marker?: string;
  requiresPython?: string;
  /** The index the files come from (PEP 751 `index`). */
  index?: string;
  wheels?: PylockFile[];
  sdist?: PylockFile;
  /** A local project directory (relative to the lock's directory), built at install time. */
  directory?: string;
  /** A direct URL or local archive that is not on an index. */
  archive?: PylockFile;
}

export interface Pylock {
  environments?: string[];
  requiresPython?: string;
  createdBy: string;
  packages: PylockPackage[];
}

/** A TOML basic string (JSON's escapes are TOML's, except that TOML has no `\/`, which JSON does not emit). */
function str(s: string): string {
  return JSON.stringify(s);
}

function fileTable(f: PylockFile): string {
  const parts: string[] = [];
  parts.push(`name = ${str(f.name)}`);
  if (f.url !== undefined) parts.push(`url = ${str(f.url)}`);
  if (f.path !== undefined) parts.push(`path = ${str(f.path)}`);
  if (f.size !== undefined) parts.push(`size = ${f.size}`);
  parts.push(`hashes = { sha256 = ${str(f.sha256)} }`);
  return parts.join('\n');
}

/** The lock as TOML text, packages sorted by name then version, wheels by file name. */
export function formatPylock(lock: Pylock): string {
  const out: string[] = ['lock-version = "1.0"'];
  if (lock.environments?.length) out.push(`environments = [${lock.environments.map(str).join(', ')}]`);
  if (lock.requiresPython) out.push(`requires-python = ${str(lock.requiresPython)}`);
  out.push(`created-by = ${str(lock.createdBy)}`);
  const packages = [...lock.packages].sort((a, b) => (a.name === b.name ? (a.version ?? '').localeCompare(b.version ?? '') : a.name < b.name ? -1 : 1));
  for (const p of packages) {
    out.push('', '[[packages]]', `name = ${str(p.name)}`);
    if (p.version !== undefined) out.push(`version = ${str(p.version)}`);
    if (p.marker) out.push(`marker = ${str(p.marker)}`);
    if (p.requiresPython) out.push(`requires-python = ${str(p.requiresPython)}`);
    if (p.index) out.push(`index = ${str(p.index)}`);
    if (p.directory !== undefined) out.push('', '[packages.directory]', `path = ${str(p.directory)}`, 'editable = false');
    if (p.archive) out.push('', '[packages.archive]', fileTable(p.archive).split('\n').filter((l) => !l.startsWith('name = ')).join('\n'));
    if (p.sdist) out.push('', '[packages.sdist]', fileTable(p.sdist));
    for (const w of [...(p.wheels ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      out.push('', '[[packages.wheels]]', fileTable(w));
    }
  }
  return `${out.join('\n')}\n`;
}
