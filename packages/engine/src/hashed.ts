/**
 * A requirements file whose every requirement is pinned and hashed is a lock: for each target the
 * requirements whose markers hold name one version, and of that version's files on the indexes
 * (matched by project name and sha256, the only thing the file records) the best wheel for the
 * target is taken. No dependency is looked for beyond the file, as pip's hash-checking mode does.
 */
import {
  canonicalizeName,
  compareVersions,
  evaluateMarker,
  formatRequirement,
  isWheelFilename,
  parseSdistFilename,
  parseWheelFilename,
  nearestPlatforms,
  selectWheelFor,
  UserError,
  type TargetPlatform,
} from '@nx-pex/pep';
import { pinOf, type RequirementLine, type RequirementsFile } from '@nx-pex/lock';
import { DEFAULT_INDEX_URL, redactUrl, type DistributionFile, type IndexConfig } from '@nx-pex/index';
import { pickWheel, type PinnedLookup, type PinnedResolution, type PinnedWheel } from './pinned';


function versionOf(filename: string): string | undefined {
  try {
    return isWheelFilename(filename) ? parseWheelFilename(filename).version : parseSdistFilename(filename)?.version;
  } catch {
    return undefined;
  }
}

function sameVersion(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  try {
    return compareVersions(a, b) === 0;
  } catch {
    return a === b;
  }
}

/** The wheels a hashed requirements file names for one target, each verified against the file's hashes when fetched. */
export async function resolveHashed(lines: readonly RequirementLine[], o: PinnedLookup): Promise<PinnedResolution> {
  const { client, target } = o;
  const env = target.markerEnvironment;
  const chosen = new Map<string, { line: RequirementLine; wheel: PinnedWheel }>();
  for (const line of lines) {
    const at = `${line.file}:${line.line}`;
    const req = line.requirement;
    if (req.marker) {
      let holds: boolean;
      try {
        holds = evaluateMarker(req.marker, env);
      } catch (e) {
        throw new UserError(`${at}: the marker of ${line.text} cannot be evaluated for ${target.id}: ${(e as Error).message}`);
      }
      if (!holds) continue;
    }
    const name = canonicalizeName(req.name);
    const version = pinOf(req)!;
    const prior = chosen.get(name);
    if (prior) {
      throw new UserError(
        `${at}: ${line.text} and ${prior.line.text} (${prior.line.file}:${prior.line.line}) both apply to ${target.id}; a lock names one version of a package per platform. Regenerate the file.`,
      );
    }
    const wanted = new Set(line.hashes.filter((h) => h.startsWith('sha256:')).map((h) => h.slice('sha256:'.length)));
    if (wanted.size === 0) {
      throw new UserError(`${at}: ${line.text} has only ${line.hashes.map((h) => h.split(':')[0]).join(', ')} hashes; nx-pex checks files by sha256: add --hash=sha256:… (pip-compile --generate-hashes writes them).`);
    }
    const files = (await client.projectFiles(name)).filter((f) => sameVersion(versionOf(f.filename), version));
    const where = [...new Set(files.map((f) => f.source))].join(', ') || 'the configured indexes and find-links';
    let wheel: PinnedWheel;
    if (files.length > 0 && files.every((f) => f.sha256 === undefined)) {
      // An index without hashes (a plain find-links directory): take the best wheel, hash it, compare.
      wheel = await pickWheel(name, version, client, o.store, target, o.log);
      if (!wanted.has(wheel.sha256.toLowerCase())) throw hashMismatch(line, version, where, [{ ...wheel.file, sha256: wheel.sha256 }]);
    } else {
      const matching = files.filter((f) => f.sha256 !== undefined && wanted.has(f.sha256.toLowerCase()));
      if (matching.length === 0) throw hashMismatch(line, version, where, files);
      const best = selectWheelFor(matching, target);
      if (!best) throw noWheel(line, target, matching);
      wheel = { name, version: parseWheelFilename(best.filename).version, file: best, sha256: best.sha256!.toLowerCase() };
    }
    chosen.set(name, { line, wheel });
  }
  return {
    requirements: [...new Set(lines.map((l) => formatRequirement(l.requirement)))].sort(),
    wheels: [...chosen.values()].map((c) => c.wheel).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

function hashMismatch(line: RequirementLine, version: string, where: string, files: DistributionFile[]): UserError {
  const listed = files.length
    ? `The files of ${line.requirement.name} ${version} there:\n  ${files
        .slice(0, 20)
        .map((f) => `${f.filename} sha256:${f.sha256 ?? '(not given)'}`)
        .join('\n  ')}${files.length > 20 ? `\n  … and ${files.length - 20} more` : ''}`
    : `There is no file of ${line.requirement.name} ${version} there.`;
  return new UserError(
    `${line.file}:${line.line}: no file of ${line.text} on ${redactUrl(where)} has a hash the file gives:\n  ${line.hashes.map((h) => `--hash=${h}`).join('\n  ')}\n${listed}\n` +
      'The file was made against another index, or the files changed: regenerate it, or point the build at the index it was made with.',
  );
}

function noWheel(line: RequirementLine, target: TargetPlatform, matching: DistributionFile[]): UserError {
  const wheels = matching.filter((f) => isWheelFilename(f.filename));
  const sdists = matching.filter((f) => !isWheelFilename(f.filename));
  let advice: string;
  if (wheels.length === 0) {
    advice = target.platform
      ? `Only its sdist (${sdists.map((f) => f.filename).join(', ')}) is hashed, and ${target.id} is not this machine's platform: the wheel must be built on ${target.id}, or come as a wheel from your index (add its hash to the file).`
      : `Only its sdist (${sdists.map((f) => f.filename).join(', ')}) is hashed, and building sdists is not supported yet: use a version that publishes a wheel, or serve a built wheel and add its hash to the file.`;
  } else {
    const near = nearestPlatforms(wheels.map((f) => f.filename), target);
    const shown = near.wheels.length > 12 ? [...near.wheels.slice(0, 12), `… and ${near.wheels.length - 12} more`] : near.wheels;
    advice = `The hashed wheels:\n  ${shown.join('\n  ')}\nNone has a tag of ${target.id}` + (near.platforms.length ? `; platforms they fit: ${near.platforms.join(', ')}.` : '.');
  }
  return new UserError(`${line.file}:${line.line}: no wheel of ${line.text} fits target ${target.id}. ${advice}`);
}

const isPyPI = (u: string) => u.replace(/\/+$/, '') === DEFAULT_INDEX_URL.replace(/\/+$/, '');

/** The index lines of requirements files joined to the build's index settings, as pip takes them. */
export function applyRequirementsFileIndexes(config: IndexConfig, files: readonly RequirementsFile[]): IndexConfig {
  const out: IndexConfig = { ...config, extraIndexUrls: [...config.extraIndexUrls], findLinks: [...config.findLinks], trustedHosts: [...config.trustedHosts] };
  for (const f of files) {
    // A file that names PyPI (as `poetry export` and `uv export` write it) keeps a configured
    // mirror of PyPI, as a lock that names PyPI does.
    if (f.indexUrl !== undefined && !(isPyPI(f.indexUrl) && !isPyPI(config.indexUrl))) out.indexUrl = f.indexUrl;
    for (const u of f.extraIndexUrls) if (!out.extraIndexUrls.includes(u)) out.extraIndexUrls.push(u);
    for (const l of f.findLinks) if (!out.findLinks.includes(l)) out.findLinks.push(l);
    for (const h of f.trustedHosts) if (!out.trustedHosts.includes(h)) out.trustedHosts.push(h);
    if (f.noIndex) out.noIndex = true;
  }
  return out;
}
