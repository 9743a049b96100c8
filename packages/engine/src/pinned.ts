/**
 * Requirements without a lock, taken only when they leave no choice: every requirement pinned
 * with `==`, every dependency of every pinned wheel (its `Requires-Dist`) pinned as well, and one
 * distribution per pin on the configured indexes and find-links locations.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import {
  canonicalizeName,
  compareVersions,
  evaluateMarker,
  formatRequirement,
  isValidVersion,
  isWheelFilename,
  parseRequirement,
  parseWheelFilename,
  selectBestWheel,
  UserError,
  versionSatisfies,
  type Requirement,
  type TargetPlatform,
} from '@nx-pex/pep';
import { redactUrl, type DistributionFile, type IndexClient, type IndexConfig } from '@nx-pex/index';
import { checkZipArchive, fetchArtifacts, type ArtifactRequest, type WheelStore } from '@nx-pex/store';

/** Requirements that cannot be taken without a resolver. */
export class UnpinnedRequirementError extends UserError {}

export interface PinnedWheel {
  name: string;
  version: string;
  file: DistributionFile;
  /** sha256 of the wheel: the index's, else computed from a download. */
  sha256: string;
}

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

function readZipEntry(path: string, want: (name: string) => boolean): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zf) => {
      if (err || !zf) return reject(err ?? new Error('cannot open'));
      let done = false;
      zf.on('entry', (entry: yauzl.Entry) => {
        if (done || !want(entry.fileName)) return zf.readEntry();
        done = true;
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
        if (!done) resolve(undefined);
      });
      zf.on('error', reject);
      zf.readEntry();
    });
  });
}

/** The METADATA file of a wheel on disk. */
export async function wheelMetadata(path: string, filename: string): Promise<string> {
  const w = parseWheelFilename(filename);
  let data: Buffer | undefined;
  try {
    data = await readZipEntry(path, (name) => {
      const parts = name.split('/');
      return parts.length === 2 && parts[1] === 'METADATA' && parts[0]!.endsWith('.dist-info') &&
        canonicalizeName(parts[0]!.slice(0, -'.dist-info'.length).split('-')[0]!) === canonicalizeName(w.name);
    });
  } catch (e) {
    throw new UserError(`${filename} is not a readable wheel (${(e as Error).message}).`);
  }
  if (!data) throw new UserError(`${filename} has no .dist-info/METADATA, so it is not a valid wheel.`);
  return data.toString('utf8');
}

export interface ResolvePinnedOptions {
  client: IndexClient;
  config: IndexConfig;
  store: WheelStore;
  target: TargetPlatform;
  log?: (line: string) => void;
}

interface Pin {
  req: Requirement;
  version: string;
}

/**
 * Resolves pinned requirements against the configured indexes and find-links: one wheel per pin
 * for the target, whose dependencies must all be pinned too. Wheels enter the store here (their
 * metadata is read from them unless the index offers PEP 658 metadata).
 */
export async function resolvePinned(texts: readonly string[], opts: ResolvePinnedOptions): Promise<PinnedResolution> {
  const { client, store, target, log } = opts;
  const env = target.markerEnvironment;
  const pins = new Map<string, Pin>();
  const roots: Requirement[] = [];
  for (const text of texts) {
    const req = parseRequirement(text);
    const shown = formatRequirement(req);
    if (req.marker && !evaluateMarker(req.marker, env)) continue;
    if (req.url) {
      throw new UnpinnedRequirementError(`"${shown}" is a direct reference (name @ URL); nx-pex does not build from URLs yet: pin a version from an index, or use --lock.`);
    }
    const version = pinnedVersion(req);
    if (!version) {
      throw new UnpinnedRequirementError(
        `"${shown}" is not pinned. Without a lock nx-pex takes only exact pins (${req.name}==<version>): pin it or use --lock.`,
      );
    }
    const name = canonicalizeName(req.name);
    const prior = pins.get(name);
    if (prior && !sameVersion(prior.version, version)) {
      throw new UnpinnedRequirementError(`${req.name} is pinned twice, at ${prior.version} and at ${version}: keep one pin.`);
    }
    if (!prior) pins.set(name, { req, version });
    roots.push(req);
  }

  const chosen = new Map<string, PinnedWheel>();
  const pending = new Map<string, Promise<PinnedWheel>>();
  const choose = (name: string): Promise<PinnedWheel> => {
    let p = pending.get(name);
    if (!p) {
      p = pickWheel(name, pins.get(name)!.version, client, store, target, log);
      pending.set(name, p);
    }
    return p;
  };

  // Breadth-first over (package, extras), remembering how each package was reached.
  const queue: Array<{ name: string; extras: string[]; chain: string[] }> = roots.map((r) => ({
    name: canonicalizeName(r.name),
    extras: r.extras.map(canonicalizeName),
    chain: [formatRequirement({ ...r, marker: undefined })],
  }));
  const seen = new Set<string>();
  for (let i = 0; i < queue.length; i++) {
    const { name, extras, chain } = queue[i]!;
    const key = `${name}[${[...extras].sort().join(',')}]`;
    if (seen.has(key)) continue;
    seen.add(key);
    const wheel = await choose(name);
    chosen.set(name, wheel);
    const metadata = await metadataOf(wheel, opts);
    const deps = requiresDist(metadata).map((t) => {
      try {
        return parseRequirement(t);
      } catch (e) {
        throw new UserError(`${wheel.file.filename} declares the dependency "${t}", which is not a valid requirement: ${(e as Error).message}`);
      }
    });
    const declared = new Set(
      metadata.split('\n').filter((l) => /^Provides-Extra:/i.test(l)).map((l) => canonicalizeName(l.slice(l.indexOf(':') + 1).trim())),
    );
    for (const extra of extras) {
      if (declared.size > 0 && !declared.has(extra)) {
        log?.(`warning: ${wheel.name} ${wheel.version} has no extra "${extra}" (asked for by ${chain.join(' -> ')})`);
      }
    }
    for (const dep of deps) {
      if (dep.marker && !evaluateMarker(dep.marker, env, extras)) continue;
      const depName = canonicalizeName(dep.name);
      const path = [...chain, formatRequirement({ ...dep, marker: undefined })];
      const pin = pins.get(depName);
      if (!pin) {
        throw new UnpinnedRequirementError(
          `${path.join(' -> ')}: ${dep.name} is not pinned. Without a lock every dependency must be pinned too: ` +
            `add ${dep.name}==<version> to the requirements, or use --lock.`,
        );
      }
      if (dep.specifier && !versionSatisfies(pin.version, dep.specifier, { prereleases: true })) {
        throw new UnpinnedRequirementError(
          `${path.join(' -> ')}: ${dep.name} is pinned at ${pin.version}, which does not satisfy ${dep.specifier}. Change the pin, or use --lock.`,
        );
      }
      queue.push({ name: depName, extras: dep.extras.map(canonicalizeName), chain: path });
    }
  }
  return {
    requirements: [...new Set(roots.map(formatRequirement))].sort(),
    wheels: [...chosen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

export async function pickWheel(
  name: string,
  version: string,
  client: IndexClient,
  store: WheelStore,
  target: TargetPlatform,
  log: ResolvePinnedOptions['log'],
): Promise<PinnedWheel> {
  const files = await client.projectFiles(name);
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
        .join('\n  ')}\nPick a version with a wheel for this target.`,
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

/** A wheel's METADATA: PEP 658 metadata when the index offers it, else from the wheel (fetched into the store). */
async function metadataOf(wheel: PinnedWheel, opts: ResolvePinnedOptions): Promise<string> {
  const meta = wheel.file.coreMetadata;
  if (meta && !wheel.file.url.startsWith('file:')) {
    const dir = await mkdtemp(join(tmpdir(), 'nx-pex-meta-'));
    try {
      const dest = join(dir, 'METADATA');
      const expected = typeof meta === 'object' ? meta.sha256 : undefined;
      await opts.client.download(`${wheel.file.url}.metadata`, dest, expected ? { sha256: expected } : {});
      return await readFile(dest, 'utf8');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const paths = await fetchArtifacts([artifactRequest(wheel)], { store: opts.store, client: opts.client, config: opts.config, log: opts.log });
  return wheelMetadata(paths.get(wheel.sha256)!, wheel.file.filename);
}
