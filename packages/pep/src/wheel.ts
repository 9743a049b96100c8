import { UserError } from './errors';
import { canonicalizeName } from './names';
import { isValidVersion } from './version';

/** The parts of a wheel file name (PEP 427/491) with its compressed tag sets (PEP 425) expanded. */
export interface WheelFilename {
  filename: string;
  /** Distribution name as written in the file name. */
  distribution: string;
  /** Canonical (PEP 503) project name. */
  name: string;
  /** Version as written in the file name. */
  version: string;
  build?: { number: number; tag: string };
  pythonTags: string[];
  abiTags: string[];
  platformTags: string[];
  /** Every `python-abi-platform` triple the wheel supports. */
  tags: string[];
}

/** A file name that is not a valid wheel name. */
export class InvalidWheelFilename extends UserError {}

function basename(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** Parses `name-version(-build)?-python-abi-platform.whl`. Throws InvalidWheelFilename. */
export function parseWheelFilename(filename: string): WheelFilename {
  const file = basename(filename);
  function bad(why: string): never {
    throw new InvalidWheelFilename(`Invalid wheel file name '${file}': ${why}. Expected {name}-{version}(-{build})?-{python tag}-{abi tag}-{platform tag}.whl.`);
  }
  if (!file.endsWith('.whl')) bad("it does not end with '.whl'");
  const parts = file.slice(0, -4).split('-');
  if (parts.length !== 5 && parts.length !== 6) bad(`it has ${parts.length} dash-separated parts instead of 5 or 6`);
  const [distribution, version] = parts;
  if (!/^[A-Za-z0-9._]+$/.test(distribution) || distribution.includes('__')) bad(`'${distribution}' is not a valid distribution name`);
  if (!isValidVersion(version)) bad(`'${version}' is not a valid PEP 440 version`);
  let build: WheelFilename['build'];
  if (parts.length === 6) {
    const m = /^(\d+)(.*)$/.exec(parts[2]);
    if (!m) bad(`build tag '${parts[2]}' does not start with a digit`);
    build = { number: Number(m[1]), tag: m[2] };
  }
  const [py, abi, plat] = parts.slice(-3);
  const split = (s: string, what: string): string[] => {
    const items = s.split('.');
    if (items.some((i) => i === '')) bad(`empty ${what} tag`);
    return items;
  };
  const pythonTags = split(py, 'python');
  const abiTags = split(abi, 'abi');
  const platformTags = split(plat, 'platform');
  const tags: string[] = [];
  for (const p of pythonTags) for (const a of abiTags) for (const pl of platformTags) tags.push(`${p}-${a}-${pl}`.toLowerCase());
  const result: WheelFilename = {
    filename: file,
    distribution,
    name: canonicalizeName(distribution),
    version,
    pythonTags,
    abiTags,
    platformTags,
    tags: [...new Set(tags)],
  };
  if (build) result.build = build;
  return result;
}

/** True when `filename` is a well-formed wheel file name. */
export function isWheelFilename(filename: string): boolean {
  try {
    parseWheelFilename(filename);
    return true;
  } catch {
    return false;
  }
}

/** Parses `name-version.tar.gz` / `name-version.zip`; undefined for anything else. Name is canonical, version as written. */
export function parseSdistFilename(filename: string): { name: string; version: string } | undefined {
  const file = basename(filename);
  const ext = ['.tar.gz', '.zip', '.tar.bz2', '.tgz', '.tar.xz', '.tar'].find((e) => file.toLowerCase().endsWith(e));
  if (!ext) return undefined;
  const stem = file.slice(0, file.length - ext.length);
  const dash = stem.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const name = stem.slice(0, dash);
  const version = stem.slice(dash + 1);
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(name) || !isValidVersion(version)) return undefined;
  return { name: canonicalizeName(name), version };
}
