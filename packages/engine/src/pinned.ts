/**
 * One exact pin looked up on the configured indexes and find-links (the pex runtime's wheel), and
 * files whose index gives no sha256, hashed as they enter the store. Requirements in general are
 * resolved by @nx-pex/resolver.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalizeName,
  compareVersions,
  isValidVersion,
  isWheelFilename,
  nearestPlatforms,
  parseWheelFilename,
  selectBestWheel,
  UserError,
  versionSatisfies,
  type Requirement,
  type TargetPlatform,
} from '@nx-pex/pep';
import { redactUrl, type DistributionFile, type IndexClient, type IndexConfig } from '@nx-pex/index';
import { checkZipArchive, onConfiguredHosts, type ArtifactRequest, type WheelStore } from '@nx-pex/store';

export interface PinnedWheel {
  name: string;
  version: string;
  file: DistributionFile;
  /** sha256 of the wheel: the index's, else computed from a download. */
  sha256: string;
}

/** What a lookup of exact pins gives: the requirements as PEX-INFO lists them, and a wheel per pin. */
export interface PinnedResolution {
  /** The requirements as PEX-INFO lists them (those whose marker holds for the target). */
  requirements: string[];
  wheels: PinnedWheel[];
}

const PIN = /^===?([^,<>=!~*]+)$/;

/** The version a requirement pins with `==` (or `===`), else undefined. */
export function pinnedVersion(req: Requirement): string | undefined {
  const m = PIN.exec(req.specifier);
  return m && isValidVersion(m[1]!) ? m[1] : undefined;
}

function sameVersion(a: string, b: string): boolean {
  try {
    return compareVersions(a, b) === 0;
  } catch {
    return a === b;
  }
}

/** `Requires-Dist` lines of a wheel's METADATA (RFC 822 headers; the body is ignored). */
export function requiresDist(metadata: string): string[] {
  const head = metadata.replace(/\r\n?/g, '\n').split('\n\n')[0]!;
  const out: string[] = [];
  const lines = head.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^Requires-Dist:\s*(.*)$/i.exec(lines[i]!);
    if (!m) continue;
    let value = m[1]!;
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += ` ${lines[++i]!.trim()}`;
    out.push(value.trim());
  }
  return out;
}

/** What looking pinned files up on the indexes for one target takes (pins here, hashed requirements in hashed.ts). */
export interface PinnedLookup {
  client: IndexClient;
  config: IndexConfig;
  store: WheelStore;
  target: TargetPlatform;
  log?: (line: string) => void;
}


export async function pickWheel(
  name: string,
  version: string,
  client: IndexClient,
  store: WheelStore,
  target: TargetPlatform,
  log: PinnedLookup['log'],
): Promise<PinnedWheel> {
  // With --no-pypi / no-index, a file listed on another host than the configured ones is not fetched.
  const files = onConfiguredHosts(await client.projectFiles(name), client.config);
  const ofVersion = files.filter((f) => {
    if (!isWheelFilename(f.filename)) return false;
    const w = parseWheelFilename(f.filename);
    return canonicalizeName(w.name) === name && sameVersion(w.version, version);
  });
  const where = [...new Set(files.map((f) => f.source))];
  const looked = where.length ? where.join(', ') : 'the configured indexes and find-links';
  if (ofVersion.length === 0) {
    const sdists = files.filter((f) => !isWheelFilename(f.filename) && f.filename.includes(version));
    throw new UserError(
      `No wheel of ${name}==${version} on ${looked}` +
        (sdists.length ? ` (only ${sdists.map((f) => f.filename).join(', ')}; building sdists is not supported yet)` : '') +
        '. Check the pin and the index (--index-url, --find-links, PIP_INDEX_URL).',
    );
  }
  const fitsPython = (f: DistributionFile) => !f.requiresPython || versionSatisfies(target.pythonVersion, f.requiresPython, { prereleases: true });
  const usable = ofVersion.filter((f) => f.yanked === undefined && fitsPython(f));
  const best = selectBestWheel(usable, target);
  if (!best) {
    const yanked = selectBestWheel(ofVersion.filter((f) => f.yanked !== undefined), target);
    if (yanked) {
      throw new UserError(
        `${yanked.filename} (${name}==${version}) is yanked on ${yanked.source}` +
          `${yanked.yanked === true ? '' : `: ${yanked.yanked}`}. nx-pex does not install yanked files: pin another version.`,
      );
    }
    throw new UserError(
      `No wheel of ${name}==${version} fits target ${target.id}. Found:\n  ${ofVersion
        .map((f) => f.filename + (f.requiresPython ? ` (requires-python ${f.requiresPython})` : ''))
        .join('\n  ')}\nPick a version with a wheel for this target` +
        (() => {
          const { platforms } = nearestPlatforms(ofVersion.map((f) => f.filename), target);
          return platforms.length ? `, or a platform these wheels fit (${platforms.join(', ')}).` : '.';
        })(),
    );
  }
  const same = usable.filter((f) => f.filename === best.filename);
  const hashes = new Set(same.map((f) => f.sha256).filter((h): h is string => h !== undefined));
  if (hashes.size > 1) {
    throw new UserError(
      `${best.filename} is offered with different contents by ${[...new Set(same.map((f) => f.source))].join(' and ')} ` +
        `(sha256 ${[...hashes].join(', ')}); nx-pex cannot tell which is meant. Remove one of the locations.`,
    );
  }
  let sha256 = [...hashes][0];
  if (!sha256) {
    sha256 = await downloadUnhashed(best, client, store);
    log?.(`${best.filename}: ${best.source} gives no sha256; downloaded it and computed sha256 ${sha256}`);
  }
  const w = parseWheelFilename(best.filename);
  return { name, version: w.version, file: best, sha256 };
}

/** Downloads a file the index gives no hash for, puts it in the store and returns its sha256. */
export async function downloadUnhashed(file: DistributionFile, client: IndexClient, store: WheelStore): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nx-pex-dl-'));
  try {
    const tmp = join(dir, randomBytes(6).toString('hex'));
    const digest = await client.download(file.url, tmp);
    // The same gate every file passes on its way into the store.
    if (/\.(whl|zip)$/i.test(file.filename)) await checkZipArchive(tmp, file.filename, redactUrl(file.url));
    await store.ensure(
      digest.sha256,
      async (dest) => {
        // Move, not copy, where the temporary directory is on the store's filesystem.
        await rename(tmp, dest).catch((e: NodeJS.ErrnoException) => (e.code === 'EXDEV' ? copyFile(tmp, dest) : Promise.reject(e)));
        return digest;
      },
      { label: file.filename },
    );
    return digest.sha256;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The store request that brings a chosen wheel in, verified against its sha256. */
export function artifactRequest(wheel: PinnedWheel): ArtifactRequest {
  return { project: wheel.name, version: wheel.version, filename: wheel.file.filename, sha256: wheel.sha256, size: wheel.file.size, url: wheel.file.url };
}
