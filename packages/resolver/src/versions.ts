/** An index's files of one project grouped by version: what both resolvers choose among. */
import { isValidVersion, isWheelFilename, parseSdistFilename, parseWheelFilename } from '@nx-pex/pep';
import type { DistributionFile } from '@nx-pex/index';

export interface VersionFiles {
  /** The version as the first of its files spells it. */
  version: string;
  wheels: DistributionFile[];
  sdists: DistributionFile[];
}

/**
 * `files` of project `name` by version, in the order the versions are first listed: wheels and
 * sdists the format control allows (`formats`) and `keep` accepts. Files of other projects and
 * files whose version is not a valid PEP 440 version are left out.
 */
export function filesByVersion(
  name: string,
  files: readonly DistributionFile[],
  formats: { binary: boolean; source: boolean },
  keep: (f: DistributionFile) => boolean = () => true,
): VersionFiles[] {
  const byVersion = new Map<string, VersionFiles>();
  for (const f of files) {
    if (!keep(f)) continue;
    let version: string;
    const wheel = isWheelFilename(f.filename);
    if (wheel) {
      const w = parseWheelFilename(f.filename);
      if (w.name !== name || !formats.binary) continue;
      version = w.version;
    } else {
      const s = parseSdistFilename(f.filename);
      if (!s || s.name !== name || !formats.source) continue;
      version = s.version;
    }
    if (!isValidVersion(version)) continue;
    const key = version.trim().toLowerCase();
    let entry = byVersion.get(key);
    if (!entry) byVersion.set(key, (entry = { version, wheels: [], sdists: [] }));
    (wheel ? entry.wheels : entry.sdists).push(f);
  }
  return [...byVersion.values()];
}
