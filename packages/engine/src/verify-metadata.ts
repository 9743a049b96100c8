/**
 * Metadata is verified, not trusted. A resolution reads what a distribution needs from its core
 * metadata, often on the index's word alone (a PEP 658 `.metadata` file, the store's metadata
 * cache, a range read of the remote wheel). Once the build has the wheel itself (its sha256
 * checked), its METADATA's name, version and Requires-Dist are compared with what the resolution
 * read; a difference stops the build, naming the index, the file and both values, and drops the
 * kept metadata so that the next resolution reads it again. Otherwise a PEX would build green and
 * fail at boot for a dependency the resolution never saw.
 */
import { canonicalizeName, compareVersions, isValidVersion, UserError } from '@nx-pex/pep';
import { StoreHttpCache, type MetadataCache } from '@nx-pex/store';
import { parseCoreMetadata, readWheelMetadata, type ClaimedMetadata, type ResolvedPackage } from '@nx-pex/resolver';

/** What the resolution claimed of one file, by the file's sha256. */
export interface MetadataClaim {
  filename: string;
  /** Where the file came from (its URL, without credentials). */
  url: string;
  claimed: ClaimedMetadata;
}

/** Records the claim of a resolved package (when it took its metadata on the index's word). */
export function recordClaim(claims: Map<string, MetadataClaim>, p: ResolvedPackage, sha256: string | undefined, url: string): void {
  if (!p.claimed || !sha256 || !p.file.filename.endsWith('.whl')) return;
  claims.set(sha256.toLowerCase(), { filename: p.file.filename, url, claimed: p.claimed });
}

/** A Requires-Dist line as compared: runs of white space made one space. */
function normalized(list: readonly string[]): string[] {
  return list.map((r) => r.trim().replace(/\s+/g, ' ')).sort();
}

function sameVersion(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return isValidVersion(a) && isValidVersion(b) && compareVersions(a, b) === 0;
}

function show(list: readonly string[]): string {
  return list.length ? list.map((r) => JSON.stringify(r)).join(', ') : '(none)';
}

/**
 * Compares every claim with the METADATA of the fetched wheel (`pathOf(sha256)`); throws a
 * UserError listing the differences after dropping the kept copies of the wrong metadata.
 */
export async function verifyClaimedMetadata(
  claims: ReadonlyMap<string, MetadataClaim>,
  pathOf: (sha256: string) => string | undefined,
  caches: { storeRoot: string; metadataCache?: MetadataCache },
): Promise<void> {
  const problems = await Promise.all(
    [...claims].map(async ([sha256, c]) => {
      const path = pathOf(sha256);
      if (!path) return undefined;
      const actual = parseCoreMetadata(await readWheelMetadata(path, c.filename));
      const diffs: string[] = [];
      const claimed = c.claimed;
      if (canonicalizeName(claimed.name ?? '') !== canonicalizeName(actual.name ?? '')) diffs.push(`Name: the resolution read ${JSON.stringify(claimed.name ?? '')}, the wheel has ${JSON.stringify(actual.name ?? '')}`);
      if (!sameVersion(claimed.version, actual.version)) diffs.push(`Version: the resolution read ${JSON.stringify(claimed.version ?? '')}, the wheel has ${JSON.stringify(actual.version ?? '')}`);
      const [want, have] = [normalized(claimed.requiresDist), normalized(actual.requiresDist)];
      if (want.join('\n') !== have.join('\n')) {
        const missing = have.filter((r) => !want.includes(r));
        const extra = want.filter((r) => !have.includes(r));
        diffs.push(
          `Requires-Dist: the resolution read ${show(want)}, the wheel has ${show(have)}` +
            (missing.length ? ` (missing from what the resolution read: ${show(missing)})` : '') +
            (extra.length ? ` (not in the wheel: ${show(extra)})` : ''),
        );
      }
      if (diffs.length === 0) return undefined;
      // The wrong metadata is not kept: the next resolution reads it again.
      for (const key of claimed.from.cacheKeys) await caches.metadataCache?.delete(key).catch(() => undefined);
      if (claimed.from.url) await new StoreHttpCache(caches.storeRoot).delete(claimed.from.url, '*/*').catch(() => undefined);
      return `${c.filename} from ${c.url}: the metadata the resolution used, from ${claimed.from.description}, differs from the wheel's own METADATA:\n    ${diffs.join('\n    ')}`;
    }),
  );
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length === 0) return;
  throw new UserError(
    `The index's metadata does not match its files, so this resolution cannot be trusted:\n  ${found.join('\n  ')}\n` +
      'nx-pex dropped its kept copy of that metadata, so nothing wrong is reused. The index (or a proxy or mirror in front of it) ' +
      'serves metadata that is not its wheels\': report it to its operators, or use another index (-i / PIP_INDEX_URL).',
  );
}
