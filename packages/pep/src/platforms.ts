/**
 * Target platforms given by name rather than by a running interpreter: pex's abbreviated
 * platforms (`--platform manylinux2014_aarch64-cp-311-cp311`) and complete platforms
 * (`--complete-platform`, the JSON `pex3 interpreter inspect --markers --tags` prints).
 */
import { UserError } from './errors';
import type { MarkerEnvironment } from './markers';
import { cpythonTagList, macPlatforms, manylinuxPlatforms, musllinuxPlatforms, selectBestWheel, type TargetPlatform } from './tags';
import { versionSatisfies } from './version';
import { parseWheelFilename } from './wheel';

/** A platform string or complete platform that cannot be used. */
export class InvalidPlatformError extends UserError {}

/** The four fields of pex's platform string `<platform>-<impl>-<version>-<abi>`. */
export interface PlatformSpec {
  /** Normalised: lower case, `-` and `.` as `_` (e.g. 'manylinux2014_aarch64', 'macosx_11_0_arm64'). */
  platform: string;
  /** Implementation abbreviation: 'cp' (CPython), 'pp' (PyPy). */
  impl: string;
  /** As written: '311' or a dotted '3.11.9'. */
  version: string;
  /** [major, minor] or [major, minor, micro]. */
  versionInfo: number[];
  /** Full ABI tag ('cp311'; pex's shorthand 'm' for 'cp37m' is expanded). */
  abi: string;
}

const FORMS =
  'Write <platform>-<impl>-<version>-<abi>, as pex does: e.g. manylinux2014_x86_64-cp-311-cp311, ' +
  'musllinux_1_2_aarch64-cp-312-cp312, macosx_11_0_arm64-cp-312-cp312 or linux_x86_64-cp-3.11.9-cp311 ' +
  '(a dotted version also sets python_full_version).';

/** Parses pex's platform string (pex's `PlatformSpec.parse`). */
export function parsePlatformSpec(text: string): PlatformSpec {
  const fail = (why: string): never => {
    throw new InvalidPlatformError(`Not a valid platform: "${text}": ${why}. ${FORMS}`);
  };
  const parts = rsplit(text.trim(), '-', 3);
  if (parts.length !== 4) fail(`expected 4 fields separated by "-", found ${parts.length}`);
  const [rawPlatform, impl, version, rawAbi] = parts as [string, string, string, string];
  if (!rawPlatform || !impl || !version || !rawAbi) fail('a field is empty');
  let components = version.split('.');
  if (components.length === 1) {
    if (version.length < 2) fail(`the version "${version}" must have 2 or more digits (311) or dots (3.11.9)`);
    components = [version[0]!, version.slice(1)];
  }
  if (components.length > 3 || components.some((c) => !/^\d+$/.test(c))) fail(`the version "${version}" is not made of numbers`);
  const versionInfo = components.map(Number);
  const interpreter = `${impl}${versionInfo.slice(0, 2).join('')}`;
  const abi = impl === 'cp' && !rawAbi.startsWith(interpreter) ? `${interpreter}${rawAbi}` : rawAbi;
  return { platform: rawPlatform.toLowerCase().replace(/[-.]/g, '_'), impl, version, versionInfo, abi };
}

function rsplit(text: string, sep: string, max: number): string[] {
  const parts = text.split(sep);
  if (parts.length <= max + 1) return parts;
  return [parts.slice(0, parts.length - max).join(sep), ...parts.slice(parts.length - max)];
}

/** pex's spelling of a platform spec (`str(PlatformSpec)`). */
export function formatPlatformSpec(spec: PlatformSpec): string {
  return [spec.platform, spec.impl, spec.version, spec.abi].join('-');
}

/**
 * The platform tags an abbreviated platform stands for, best first: the manylinux ladder of the
 * glibc a manylinux tag names (manylinux2014 = glibc 2.17, down to manylinux1), the musllinux
 * ladder of a musl version, the macOS versions and binary formats (universal2 included) a macOS
 * tag accepts, as `packaging.tags` lists them for such a machine. A plain `linux_<arch>` is
 * taken with pex's default `--manylinux manylinux2014`: the manylinux2014 ladder, then
 * `linux_<arch>` itself.
 */
export function platformTagsOf(platform: string): string[] {
  let m = /^manylinux(1|2010|2014)_(.+)$/.exec(platform);
  if (m) {
    const glibc: Record<string, [number, number]> = { '1': [2, 5], '2010': [2, 12], '2014': [2, 17] };
    return ladderOrSelf(manylinuxPlatforms(glibc[m[1]!]!, m[2]!), platform);
  }
  m = /^manylinux_(\d+)_(\d+)_(.+)$/.exec(platform);
  if (m) return ladderOrSelf(manylinuxPlatforms([Number(m[1]), Number(m[2])], m[3]!), platform);
  m = /^musllinux_(\d+)_(\d+)_(.+)$/.exec(platform);
  if (m) return musllinuxPlatforms([Number(m[1]), Number(m[2])], m[3]!);
  m = /^macosx_(\d+)_(\d+)_(.+)$/.exec(platform);
  if (m) return ladderOrSelf(macPlatforms([Number(m[1]), Number(m[2])], m[3]!), platform);
  m = /^linux_(.+)$/.exec(platform);
  if (m) return [...manylinuxPlatforms([2, 17], m[1]!), platform];
  return [platform];
}

function ladderOrSelf(ladder: string[], platform: string): string[] {
  return ladder.length > 0 ? ladder : [platform];
}

const IMPLEMENTATIONS: Record<string, { name: string; python: string }> = {
  cp: { name: 'cpython', python: 'CPython' },
  pp: { name: 'pypy', python: 'PyPy' },
};

/**
 * The marker environment pex fills in for an abbreviated platform (pex's
 * `MarkerEnvironment.from_platform`): implementation, OS, machine and Python version follow from
 * the platform string; `python_full_version` only from a dotted version (`cp-3.11.9`);
 * `implementation_version`, `platform_release` and `platform_version` are unknown and left out,
 * so a marker that needs them cannot be evaluated (use a complete platform then).
 */
export function abbreviatedMarkerEnvironment(spec: PlatformSpec): Partial<MarkerEnvironment> {
  const env: Partial<MarkerEnvironment> = {};
  const impl = IMPLEMENTATIONS[spec.impl];
  if (impl) {
    env.implementation_name = impl.name;
    env.platform_python_implementation = impl.python;
  }
  const p = spec.platform;
  // Python's `p.split("_", n)[-1]`, as pex takes the machine out of the platform tag.
  const after = (n: number) => {
    const parts = p.split('_');
    return parts.length > n ? parts.slice(n).join('_') : parts[parts.length - 1]!;
  };
  if (p.includes('linux')) {
    env.os_name = 'posix';
    env.platform_machine = /^(linux|manylinux1|manylinux2010|manylinux2014)_/.test(p) ? after(1) : after(3);
    env.platform_system = 'Linux';
    env.sys_platform = 'linux';
  } else if (p.includes('mac')) {
    env.os_name = 'posix';
    env.platform_machine = after(3);
    env.platform_system = 'Darwin';
    env.sys_platform = 'darwin';
  } else if (p.includes('win')) {
    env.os_name = 'nt';
    env.platform_machine = after(2);
    env.platform_system = 'Windows';
    env.sys_platform = 'win32';
  }
  env.python_version = spec.versionInfo.slice(0, 2).join('.');
  if (spec.versionInfo.length === 3) env.python_full_version = spec.versionInfo.join('.');
  return env;
}

/** The target an abbreviated platform string (`--platform`) stands for. */
export function abbreviatedPlatform(text: string): TargetPlatform {
  const spec = parsePlatformSpec(text);
  if (spec.impl !== 'cp') {
    throw new InvalidPlatformError(`The platform "${text}" is for ${IMPLEMENTATIONS[spec.impl]?.python ?? `the implementation "${spec.impl}"`}; only CPython platforms (cp) are supported as PEX targets.`);
  }
  if (spec.versionInfo[0] !== 3) {
    throw new InvalidPlatformError(`The platform "${text}" is for Python ${spec.versionInfo.join('.')}; only Python 3 is supported.`);
  }
  if (!new RegExp(`^cp${spec.versionInfo[0]}${spec.versionInfo[1]}[dmut]*$`).test(spec.abi) && spec.abi !== 'abi3' && spec.abi !== 'none') {
    throw new InvalidPlatformError(`The platform "${text}" has the ABI "${spec.abi}", which is not one of CPython ${spec.versionInfo.slice(0, 2).join('.')} (cp${spec.versionInfo[0]}${spec.versionInfo[1]}, or with flags such as cp${spec.versionInfo[0]}${spec.versionInfo[1]}d). ${FORMS}`);
  }
  const platforms = platformTagsOf(spec.platform);
  const tags = cpythonTagList([spec.versionInfo[0]!, spec.versionInfo[1]!], [spec.abi], platforms);
  const env = abbreviatedMarkerEnvironment(spec);
  return {
    id: formatPlatformSpec(spec),
    pythonVersion: spec.versionInfo.join('.'),
    markerEnvironment: env as MarkerEnvironment,
    supportedTags: tags,
    platform: { kind: 'abbreviated', spec: formatPlatformSpec(spec) },
  };
}

const MARKER_NAMES: ReadonlyArray<keyof MarkerEnvironment> = [
  'implementation_name',
  'implementation_version',
  'os_name',
  'platform_machine',
  'platform_python_implementation',
  'platform_release',
  'platform_system',
  'platform_version',
  'python_full_version',
  'python_version',
  'sys_platform',
];

/** Expands a compressed tag (`cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64`) as `packaging.tags.parse_tag` does. */
function expandTag(tag: string): string[] | undefined {
  const parts = tag.toLowerCase().split('-');
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined;
  const out: string[] = [];
  for (const i of parts[0]!.split('.')) for (const a of parts[1]!.split('.')) for (const p of parts[2]!.split('.')) out.push(`${i}-${a}-${p}`);
  return out;
}

/**
 * A complete platform (`--complete-platform`): the JSON object `pex3 interpreter inspect
 * --markers --tags` prints on the target machine, with `marker_environment` (PEP 508 names,
 * string values; a subset is allowed) and `compatible_tags` (best first); other keys are
 * ignored. `source` names the file (or "a JSON string") in messages.
 */
export function completePlatform(json: string, source: string): TargetPlatform {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new InvalidPlatformError(`The complete platform ${source} is not JSON (${(e as Error).message}). Create it on the target machine with \`pex3 interpreter inspect --markers --tags\`.`);
  }
  const fail = (why: string): never => {
    throw new InvalidPlatformError(`The complete platform ${source} ${why}. Create it on the target machine with \`pex3 interpreter inspect --markers --tags\`.`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return fail('is not a JSON object');
  const obj = data as Record<string, unknown>;
  const markers = obj.marker_environment;
  if (markers === undefined) fail("has no 'marker_environment' key");
  if (typeof markers !== 'object' || markers === null || Array.isArray(markers)) return fail("has a 'marker_environment' that is not an object");
  const env: Partial<MarkerEnvironment> = {};
  for (const [key, value] of Object.entries(markers as Record<string, unknown>)) {
    if (!(MARKER_NAMES as readonly string[]).includes(key)) fail(`has the marker "${key}", which PEP 508 does not define (known: ${MARKER_NAMES.join(', ')})`);
    if (typeof value !== 'string') fail(`has a non-string value for the marker "${key}"`);
    env[key as keyof MarkerEnvironment] = value as string;
  }
  const rawTags = obj.compatible_tags;
  if (rawTags === undefined) fail("has no 'compatible_tags' key");
  if (!Array.isArray(rawTags) || rawTags.length === 0 || rawTags.some((t) => typeof t !== 'string')) fail("has a 'compatible_tags' that is not a non-empty array of strings");
  const tags: string[] = [];
  const seen = new Set<string>();
  for (const t of rawTags as string[]) {
    const expanded = expandTag(t);
    if (!expanded) fail(`has the tag "${t}", which is not <interpreter>-<abi>-<platform>`);
    for (const e of expanded!) {
      if (!seen.has(e)) {
        seen.add(e);
        tags.push(e);
      }
    }
  }
  const impl = env.platform_python_implementation;
  if (impl !== undefined && impl !== 'CPython') fail(`is for ${impl}; only CPython platforms are supported as PEX targets`);
  const version = env.python_full_version ?? env.python_version ?? /^cp(\d)(\d+)-/.exec(tags[0]!)?.slice(1, 3).join('.');
  if (!version || !/^\d+\.\d+/.test(version)) fail('gives no Python version (python_full_version or python_version in marker_environment)');
  if (env.python_version === undefined) env.python_version = version!.split('.').slice(0, 2).join('.');
  // The best tag names the platform, e.g. cp312-cp312-manylinux_2_36_x86_64.
  const id = tags.find((t) => !/-linux_[^-]+$/.test(t) && !t.endsWith('-any')) ?? tags[0]!;
  return {
    id,
    pythonVersion: version!,
    markerEnvironment: env as MarkerEnvironment,
    supportedTags: tags,
    platform: { kind: 'complete', spec: id },
  };
}

/** A file an index lists, as far as choosing a wheel needs it. */
export interface IndexedFile {
  filename: string;
  /** PEP 503 `data-requires-python`. */
  requiresPython?: string | null;
  /** PEP 592: set (true or the reason) when the file is yanked. */
  yanked?: string | boolean | null;
}

/**
 * The wheel pip would install for a target from the files of one version: yanked files and those
 * whose requires-python excludes the target's Python are left out, then the best-ranked wheel
 * for the target's tags wins (ties: the higher build number).
 */
export function selectWheelFor<T extends IndexedFile>(files: readonly T[], target: TargetPlatform): T | undefined {
  const usable = files.filter(
    (f) => (f.yanked === undefined || f.yanked === null || f.yanked === false) &&
      (!f.requiresPython || fitsPython(target.pythonVersion, f.requiresPython)),
  );
  return selectBestWheel(usable, target);
}

// pip ignores a requires-python it cannot parse, and so does this.
function fitsPython(version: string, requiresPython: string): boolean {
  try {
    return versionSatisfies(version, requiresPython, { prereleases: true });
  } catch {
    return true;
  }
}

function splitPlatformTag(platform: string): { family: string; arch: string } {
  const m = /^(manylinux_\d+_\d+|manylinux\d+|musllinux_\d+_\d+|macosx_\d+_\d+|linux|win)_(.+)$/.exec(platform);
  if (!m) return { family: platform, arch: '' };
  return { family: m[1]!.replace(/[_\d]+$/, '').replace(/\d+$/, ''), arch: m[2]! };
}

/** How close a wheel tag is to a target: same Python first, then the same machine, then the same OS. */
function closeness(tag: string, target: TargetPlatform): number {
  const [best] = target.supportedTags;
  if (!best) return 0;
  const [ti, , tp] = best.split('-') as [string, string, string];
  const [wi, , wp] = tag.split('-') as [string, string, string];
  const t = splitPlatformTag(tp);
  const w = splitPlatformTag(wp);
  return (wi === ti ? 4 : 0) + (w.arch === t.arch ? 2 : 0) + (w.family === t.family ? 1 : 0);
}

/**
 * For messages about a target no wheel fits: the wheels' file names, those nearest the target
 * first (same Python, then same machine, then same OS), and up to `max` pex platform strings
 * these wheels install on, nearest first.
 */
export function nearestPlatforms(filenames: readonly string[], target: TargetPlatform, max = 3): { wheels: string[]; platforms: string[] } {
  const scored: Array<{ name: string; score: number; platform?: string }> = [];
  for (const name of filenames) {
    let wheel;
    try {
      wheel = parseWheelFilename(name);
    } catch {
      continue;
    }
    let best = { score: -1, platform: undefined as string | undefined };
    for (const tag of wheel.tags) {
      const score = closeness(tag, target);
      if (score > best.score) best = { score, platform: platformOfTag(tag) };
    }
    scored.push({ name, score: best.score, platform: best.platform });
  }
  const ordered = [...scored].sort((a, b) => b.score - a.score);
  const platforms: string[] = [];
  for (const s of ordered) if (s.platform && !platforms.includes(s.platform) && platforms.length < max) platforms.push(s.platform);
  return { wheels: ordered.map((s) => s.name), platforms };
}

function platformOfTag(tag: string): string | undefined {
  const [interpreter, abi, platform] = tag.split('-') as [string, string, string];
  const m = /^cp(\d)(\d+)$/.exec(interpreter);
  if (!m || platform === 'any') return undefined;
  return `${platform}-cp-${m[1]}${m[2]}-${abi === 'abi3' || abi === 'none' ? interpreter : abi}`;
}

/**
 * A pex platform string a wheel installs on, for messages that suggest a platform that would
 * work: `cp311-cp311-manylinux_2_17_x86_64` gives `manylinux_2_17_x86_64-cp-311-cp311`; abi3
 * wheels take their minimum version; pure wheels give undefined.
 */
export function platformOfWheel(filename: string): string | undefined {
  let wheel;
  try {
    wheel = parseWheelFilename(filename);
  } catch {
    return undefined;
  }
  for (const tag of wheel.tags) {
    const p = platformOfTag(tag);
    if (p) return p;
  }
  return undefined;
}
