import * as pep440 from '@renovatebot/pep440';
import { UserError } from './errors';

/** A version specifier (`>=1.0,<2`) that PEP 440 does not accept. */
export class InvalidSpecifier extends UserError {}

/** True when `v` is a valid PEP 440 version. */
export function isValidVersion(v: string): boolean {
  return typeof v === 'string' && pep440.valid(v.trim()) !== null;
}

/** The PEP 440 normal form of a version (`1.0-RC1` → `1.0rc1`), or undefined when it is not one. */
export function normalizeVersion(v: string): string | undefined {
  return pep440.clean(v.trim()) ?? undefined;
}

/** Orders two PEP 440 versions: negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: string, b: string): number {
  // Sorting a project's releases compares each version some 2 log n times, and
  // @renovatebot/pep440 parses both strings on every call: each version's sort key (packaging's
  // _cmpkey) is worked out once instead.
  const ka = sortKey(a);
  const kb = sortKey(b);
  if (!ka || !kb) return pep440.compare(a, b);
  return compareKeys(ka, kb);
}

/** A version's order as packaging's _cmpkey gives it. */
interface SortKey {
  epoch: number;
  /** The release without trailing zeros. */
  release: number[];
  /** [rank, number]: -1 for a dev release of no pre- or post-release, 0/1/2 for a/b/rc, 3 for none. */
  pre: [number, number];
  /** -1 for none. */
  post: number;
  /** Infinity for none. */
  dev: number;
  /** Local segments: numbers sort after (above) strings; null for none. */
  local: (number | string)[] | null;
}

const SORT_KEY_MAX = 100_000;
const sortKeys = new Map<string, SortKey | null>();
const PRE_RANK: Record<string, number> = { a: 0, b: 1, rc: 2 };

function sortKey(version: string): SortKey | null {
  let key = sortKeys.get(version);
  if (key !== undefined) return key;
  const e = pep440.explain(version);
  key = null;
  if (e && (e.pre === null || e.pre[0] in PRE_RANK)) {
    const release = [...e.release];
    while (release.length > 1 && release[release.length - 1] === 0) release.pop();
    const post = e.post === null ? -1 : Number(e.post);
    const dev = e.dev === null ? Infinity : Number(e.dev);
    const pre: [number, number] = e.pre ? [PRE_RANK[e.pre[0]]!, Number(e.pre[1])] : e.post === null && e.dev !== null ? [-1, 0] : [3, 0];
    const local = e.local === null ? null : e.local.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p.toLowerCase()));
    key = { epoch: Number(e.epoch), release, pre, post, dev, local };
  }
  if (sortKeys.size >= SORT_KEY_MAX) sortKeys.clear();
  sortKeys.set(version, key);
  return key;
}

const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);

function compareKeys(a: SortKey, b: SortKey): number {
  if (a.epoch !== b.epoch) return cmp(a.epoch, b.epoch);
  const n = Math.min(a.release.length, b.release.length);
  for (let i = 0; i < n; i++) if (a.release[i] !== b.release[i]) return cmp(a.release[i]!, b.release[i]!);
  if (a.release.length !== b.release.length) return cmp(a.release.length, b.release.length);
  if (a.pre[0] !== b.pre[0]) return cmp(a.pre[0], b.pre[0]);
  if (a.pre[1] !== b.pre[1]) return cmp(a.pre[1], b.pre[1]);
  if (a.post !== b.post) return cmp(a.post, b.post);
  if (a.dev !== b.dev) return cmp(a.dev, b.dev);
  if (a.local === null || b.local === null) return a.local === b.local ? 0 : a.local === null ? -1 : 1;
  const m = Math.min(a.local.length, b.local.length);
  for (let i = 0; i < m; i++) {
    const x = a.local[i]!;
    const y = b.local[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return cmp(x, y);
    if (typeof x === 'number') return 1;
    if (typeof y === 'number') return -1;
    return x < y ? -1 : 1;
  }
  return cmp(a.local.length, b.local.length);
}

interface Clause {
  text: string;
  operator: string;
  version: string;
}

const CLAUSE = /^\s*(===|~=|==|!=|<=|>=|<|>)\s*(\S.*?)\s*$/;
const clauseCache = new Map<string, Clause[]>();

/** Splits and validates a specifier set; throws InvalidSpecifier. */
export function parseSpecifier(specifier: string): Clause[] {
  const cached = clauseCache.get(specifier);
  if (cached) return cached;
  const clauses: Clause[] = [];
  if (specifier.trim() !== '') {
    for (const part of specifier.split(',')) {
      const m = CLAUSE.exec(part);
      const text = m ? `${m[1]}${m[2]}` : part.trim();
      if (!m || !pep440.validRange(text)) {
        throw new InvalidSpecifier(
          `Invalid version specifier '${part.trim()}' in '${specifier}': expected an operator (==, !=, <=, >=, <, >, ~=, ===) followed by a PEP 440 version.`,
        );
      }
      clauses.push({ text, operator: m[1], version: m[2] });
    }
  }
  clauseCache.set(specifier, clauses);
  return clauses;
}

/** True when `specifier` is a valid (possibly empty) PEP 440 specifier set. */
export function isValidSpecifier(specifier: string): boolean {
  try {
    parseSpecifier(specifier);
    return true;
  } catch {
    return false;
  }
}

/** Normalised text of a specifier set the way `packaging` prints it: clauses without spaces, de-duplicated, sorted. */
export function normalizeSpecifier(specifier: string): string {
  const texts = new Set(parseSpecifier(specifier).map((c) => c.text));
  return [...texts].sort().join(',');
}

function sameBase(a: pep440.Pep440Version, b: pep440.Pep440Version): boolean {
  return a.epoch === b.epoch && pep440.eq(a.release.join('.'), b.release.join('.'));
}

// Exclusive ordered comparisons per PEP 440: `<V` never admits pre-releases
// of V (unless V is one), `>V` never admits post-releases or local versions of V.
function lessThan(version: string, spec: string): boolean {
  if (!(compareVersions(version, spec) < 0)) return false;
  const p = pep440.explain(version)!;
  const s = pep440.explain(spec)!;
  if (!s.is_prerelease && p.is_prerelease && sameBase(p, s)) return false;
  return true;
}

function greaterThan(version: string, spec: string): boolean {
  if (!(compareVersions(version, spec) > 0)) return false;
  const p = pep440.explain(version)!;
  const s = pep440.explain(spec)!;
  if (!s.is_postrelease && p.is_postrelease && sameBase(p, s)) return false;
  if (p.local !== null && sameBase(p, s)) return false;
  return true;
}

function clauseMatches(version: string, clause: Clause): boolean {
  if (clause.operator === '===') {
    return version.trim().toLowerCase() === clause.version.toLowerCase();
  }
  if (clause.operator === '<') return lessThan(version, clause.version);
  if (clause.operator === '>') return greaterThan(version, clause.version);
  return inclusiveMatches(version, clause) ?? pep440.satisfies(version, clause.text, { prereleases: true });
}

/**
 * `>=V`, `<=V`, `==V` and `!=V` (no wildcard) by sort keys, as packaging decides them: the
 * candidate's local label is ignored unless V has one (only `==`/`!=` may). Undefined for the
 * other operators, which @renovatebot/pep440 decides.
 */
function inclusiveMatches(version: string, clause: Clause): boolean | undefined {
  const op = clause.operator;
  if ((op !== '>=' && op !== '<=' && op !== '==' && op !== '!=') || clause.version.endsWith('.*')) return undefined;
  const v = sortKey(version.trim());
  const s = sortKey(clause.version);
  if (!v || !s) return undefined;
  const c = compareKeys(s.local === null && v.local !== null ? { ...v, local: null } : v, s);
  return op === '>=' ? c >= 0 : op === '<=' ? c <= 0 : op === '==' ? c === 0 : c !== 0;
}

/**
 * True when `version` satisfies the PEP 440 specifier set (`>=1.0,<2`).
 * The empty specifier matches every valid version. As in `packaging` 26,
 * a pre-release matches whenever the comparisons admit it; pass
 * `prereleases: false` to exclude pre-releases and dev releases outright.
 * Invalid versions never match (except through `===`); an invalid specifier
 * throws InvalidSpecifier.
 */
export function versionSatisfies(version: string, specifier: string, opts: { prereleases?: boolean } = {}): boolean {
  // A resolution asks the same few specifiers (requires-python of every file of a project, a
  // requirement of every version of another) about the same versions thousands of times, and
  // @renovatebot/pep440 parses both strings on every call: each answer is worked out once.
  const key = `${opts.prereleases === false ? '-' : '+'}${version}\u0000${specifier}`;
  let answer = satisfiesMemo.get(key);
  if (answer === undefined) {
    answer = decideSatisfies(version, specifier, opts);
    if (satisfiesMemo.size >= SATISFIES_MEMO_MAX) satisfiesMemo.clear();
    satisfiesMemo.set(key, answer);
  }
  return answer;
}

const SATISFIES_MEMO_MAX = 200_000;
const satisfiesMemo = new Map<string, boolean>();

function decideSatisfies(version: string, specifier: string, opts: { prereleases?: boolean }): boolean {
  const clauses = parseSpecifier(specifier);
  const explained = pep440.explain(version.trim());
  if (!explained) {
    // Arbitrary equality may name a string that is not a PEP 440 version.
    return clauses.length > 0 && clauses.every((c) => c.operator === '===' && clauseMatches(version, c));
  }
  if (explained.is_prerelease && opts.prereleases === false) return false;
  return clauses.every((c) => clauseMatches(version, c));
}
