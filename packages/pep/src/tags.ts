import { UserError } from './errors';
import type { MarkerEnvironment } from './markers';
import { parseWheelFilename, WheelFilename } from './wheel';

/** What `probeInterpreter` (`@nx-pex/interpreter`) learns about a Python interpreter. */
export interface InterpreterInfo {
  /** `sys.implementation.name`, e.g. 'cpython'. */
  implementation: string;
  version: [number, number, number];
  /** `sys.abiflags` ('' on most builds, 'd' debug, 't' free-threaded, 'm' pymalloc before 3.8). */
  abiflags: string;
  /** `sysconfig.get_platform()`, e.g. 'linux-x86_64', 'macosx-11.0-arm64'. */
  platform: string;
  /** `platform.machine()`. */
  machine: string;
  libc?: { name: 'glibc' | 'musl'; version: [number, number] };
  macosVersion?: [number, number];
  markerEnvironment: MarkerEnvironment;
  executable?: string;
  /** True for a 32-bit interpreter (`sys.maxsize <= 2**32`). */
  is32bit?: boolean;
}

/** A platform wheels are chosen for: one interpreter version on one OS/libc/architecture. */
export interface TargetPlatform {
  /** Stable short name of the target: its best tag, e.g. 'cp311-cp311-manylinux_2_36_x86_64'. */
  id: string;
  /** Full Python version, e.g. '3.11.7'. */
  pythonVersion: string;
  markerEnvironment: MarkerEnvironment;
  /** Supported wheel tags, best first, in the order `packaging.tags.sys_tags()` gives them. */
  supportedTags: string[];
  /**
   * How the target was given, when not by a local interpreter: a pex platform string
   * (`--platform`) or a complete platform (`--complete-platform`, `spec` is its best tag).
   */
  platform?: { kind: 'abbreviated' | 'complete'; spec: string };
}

/** The interpreter cannot be described with wheel tags (e.g. not CPython). */
export class UnsupportedInterpreter extends UserError {}

// PEP 513/571/599 names of glibc 2.5, 2.12 and 2.17, listed right after their PEP 600 twin.
const LEGACY_MANYLINUX: Record<string, string> = { '2_17': 'manylinux2014', '2_12': 'manylinux2010', '2_5': 'manylinux1' };
// Architectures for which manylinux wheels can be built (PEP 599/600).
const MANYLINUX_ARCHS = new Set(['x86_64', 'i686', 'aarch64', 'armv7l', 'ppc64', 'ppc64le', 's390x', 'loongarch64', 'riscv64']);

function normalizePlatform(p: string): string {
  return p.replace(/[-.]/g, '_').toLowerCase();
}

/** manylinux tags for a glibc version, newest first, with the legacy aliases after their PEP 600 twin. */
export function manylinuxPlatforms(glibc: [number, number], arch: string): string[] {
  if (!MANYLINUX_ARCHS.has(arch)) return [];
  const [major, minor] = glibc;
  if (major !== 2) return [];
  // glibc 2.5 is the floor for x86; other architectures start at manylinux2014 (glibc 2.17).
  const floor = arch === 'x86_64' || arch === 'i686' ? 5 : 17;
  const out: string[] = [];
  for (let m = minor; m >= floor; m--) {
    out.push(`manylinux_2_${m}_${arch}`);
    const legacy = LEGACY_MANYLINUX[`2_${m}`];
    if (legacy) out.push(`${legacy}_${arch}`);
  }
  return out;
}

/** musllinux tags (PEP 656), newest first. */
export function musllinuxPlatforms(musl: [number, number], arch: string): string[] {
  const out: string[] = [];
  for (let m = musl[1]; m >= 0; m--) out.push(`musllinux_${musl[0]}_${m}_${arch}`);
  return out;
}

function macBinaryFormats(version: [number, number], arch: string): string[] {
  const before = (a: [number, number], b: [number, number]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const formats = [arch];
  if (arch === 'x86_64') {
    if (before(version, [10, 4])) return [];
    formats.push('intel', 'fat64', 'fat3');
  } else if (arch === 'i386') {
    if (before(version, [10, 4])) return [];
    formats.push('intel', 'fat3', 'fat');
  } else if (arch === 'ppc64') {
    if (before([10, 5], version) || before(version, [10, 4])) return [];
    formats.push('fat64');
  } else if (arch === 'ppc') {
    if (before([10, 6], version)) return [];
    formats.push('fat3', 'fat');
  }
  if (arch === 'arm64' || arch === 'x86_64') formats.push('universal2');
  if (['x86_64', 'i386', 'ppc64', 'ppc', 'intel'].includes(arch)) formats.push('universal');
  return formats;
}

/** macOS platform tags for a macOS version and CPU architecture, best first. */
export function macPlatforms(version: [number, number], arch: string): string[] {
  const out: string[] = [];
  const [major, minor] = version;
  if (major === 10) {
    for (let m = minor; m >= 0; m--) for (const f of macBinaryFormats([10, m], arch)) out.push(`macosx_10_${m}_${f}`);
  }
  if (major >= 11) {
    // From macOS 11 on only the major version counts.
    for (let M = major; M > 10; M--) for (const f of macBinaryFormats([M, 0], arch)) out.push(`macosx_${M}_0_${f}`);
    for (let m = 16; m > 3; m--) {
      if (arch === 'x86_64') for (const f of macBinaryFormats([10, m], arch)) out.push(`macosx_10_${m}_${f}`);
      else out.push(`macosx_10_${m}_universal2`);
    }
  }
  return out;
}

/** Platform tags of an interpreter, best first (packaging's `platform_tags()`). */
export function platformTags(info: InterpreterInfo): string[] {
  const plat = normalizePlatform(info.platform);
  if (plat.startsWith('macosx_')) {
    const m = /^macosx_(\d+)_(\d+)_(.+)$/.exec(plat);
    const version = info.macosVersion ?? (m ? [Number(m[1]), Number(m[2])] as [number, number] : undefined);
    if (!version) throw new UnsupportedInterpreter(`Cannot tell the macOS version of the interpreter from platform '${info.platform}'.`);
    let arch = info.machine;
    if (info.is32bit) arch = arch.startsWith('ppc') ? 'ppc' : 'i386';
    return macPlatforms(version, arch);
  }
  if (!plat.startsWith('linux_')) return [plat];
  let linux = plat;
  if (info.is32bit) {
    if (linux === 'linux_x86_64') linux = 'linux_i686';
    else if (linux === 'linux_aarch64') linux = 'linux_armv8l';
  }
  const arch = linux.slice('linux_'.length);
  const archs = arch === 'armv8l' ? ['armv8l', 'armv7l'] : [arch];
  // Since packaging 26.3 the native linux_<arch> tags come first (a wheel built on
  // this very machine beats a portable one), then manylinux, then musllinux.
  const out = archs.map((a) => `linux_${a}`);
  if (info.libc?.name === 'glibc') for (const a of archs) out.push(...manylinuxPlatforms(info.libc.version, a));
  if (info.libc?.name === 'musl') for (const a of archs) out.push(...musllinuxPlatforms(info.libc.version, a));
  return out;
}

function cpythonAbis(info: InterpreterInfo): string[] {
  const [major, minor] = info.version;
  const v = `${major}${minor}`;
  const flags = info.abiflags;
  const debug = flags.includes('d') ? 'd' : '';
  const threading = flags.includes('t') && (major > 3 || minor >= 13) ? 't' : '';
  if (major === 3 && minor < 8) {
    const pymalloc = flags.includes('m') ? 'm' : '';
    const ucs4 = minor < 3 && flags.includes('u') ? 'u' : '';
    return [`cp${v}${debug}${pymalloc}${ucs4}`];
  }
  const abis = [`cp${v}${threading}${debug}`];
  if (debug) abis.push(`cp${v}${threading}`);
  return abis;
}

/** Every wheel tag a CPython interpreter accepts, best first, as `packaging.tags.sys_tags()` lists them. */
export function supportedTags(info: InterpreterInfo): string[] {
  if (info.implementation !== 'cpython') {
    throw new UnsupportedInterpreter(
      `Interpreter ${info.executable ?? ''} is ${info.implementation}; only CPython interpreters are supported as PEX targets.`,
    );
  }
  return cpythonTagList([info.version[0], info.version[1]], cpythonAbis(info), platformTags(info));
}

/**
 * The tags of CPython `major.minor` with the given ABIs on the given platform tags, best first:
 * packaging's `cpython_tags(python_version, abis, platforms)` followed by its `compatible_tags`.
 */
export function cpythonTagList(version: [number, number], abis: readonly string[], platforms: readonly string[]): string[] {
  const [major, minor] = version;
  const interpreter = `cp${major}${minor}`;
  // abi3 and none are placed by the rules below, wherever they are listed.
  const own = abis.filter((a) => a !== 'abi3' && a !== 'none');
  const tags: string[] = [];
  for (const abi of own) for (const p of platforms) tags.push(`${interpreter}-${abi}-${p}`);
  // Free-threaded builds cannot load abi3 extensions; they take abi3t (PEP 803) instead.
  const threaded = own.length > 0 && /^cp\d+\w*t/.test(own[0]!);
  const stableAbi = major === 3 && minor >= 2 ? (threaded ? 'abi3t' : 'abi3') : undefined;
  if (stableAbi) for (const p of platforms) tags.push(`${interpreter}-${stableAbi}-${p}`);
  for (const p of platforms) tags.push(`${interpreter}-none-${p}`);
  if (stableAbi) for (let m = minor - 1; m > 1; m--) for (const p of platforms) tags.push(`cp${major}${m}-${stableAbi}-${p}`);
  // Pure-python tags: py3X-none-<plat>, then cpXY-none-any, then py3X-none-any.
  const pyRange = [`py${major}${minor}`, `py${major}`];
  for (let m = minor - 1; m >= 0; m--) pyRange.push(`py${major}${m}`);
  for (const py of pyRange) for (const p of platforms) tags.push(`${py}-none-${p}`);
  tags.push(`${interpreter}-none-any`);
  for (const py of pyRange) tags.push(`${py}-none-any`);
  return tags;
}

/** Builds the target platform an interpreter stands for. */
export function targetFromInterpreter(info: InterpreterInfo): TargetPlatform {
  const tags = supportedTags(info);
  // Native linux_<arch> tags lead the list but do not say which libc; name the
  // target by its best portable tag instead.
  const id = tags.find((t) => !/-linux_[^-]+$/.test(t)) ?? tags[0];
  return {
    id,
    pythonVersion: info.markerEnvironment.python_full_version || info.version.join('.'),
    markerEnvironment: { ...info.markerEnvironment },
    supportedTags: tags,
  };
}

const rankIndex = new WeakMap<TargetPlatform, Map<string, number>>();
function indexOf(target: TargetPlatform): Map<string, number> {
  let index = rankIndex.get(target);
  if (!index || index.size === 0) {
    index = new Map();
    target.supportedTags.forEach((t, i) => {
      if (!index!.has(t)) index!.set(t, i);
    });
    rankIndex.set(target, index);
  }
  return index;
}

/** Position of the wheel's best tag in the target's supported tags (lower is better); undefined when incompatible. */
export function wheelRank(wheel: WheelFilename, target: TargetPlatform): number | undefined {
  const index = indexOf(target);
  let best: number | undefined;
  for (const t of wheel.tags) {
    const i = index.get(t);
    if (i !== undefined && (best === undefined || i < best)) best = i;
  }
  return best;
}

/**
 * The compatible wheel with the best rank (ties: higher build number, then the one listed last,
 * as pip's resolver takes it); non-wheels and incompatible wheels are skipped.
 */
export function selectBestWheel<T extends { filename: string }>(files: readonly T[], target: TargetPlatform): T | undefined {
  let best: { file: T; rank: number; build: number } | undefined;
  for (const file of files) {
    let wheel: WheelFilename;
    try {
      wheel = parseWheelFilename(file.filename);
    } catch {
      continue;
    }
    const rank = wheelRank(wheel, target);
    if (rank === undefined) continue;
    const build = wheel.build?.number ?? -1;
    if (!best || rank < best.rank || (rank === best.rank && build >= best.build)) best = { file, rank, build };
  }
  return best?.file;
}
