/**
 * PEP 508 markers as values to combine: `and`, `or`, and a simplification that drops duplicate and
 * implied terms, decides contradictions (`sys_platform == "linux" and sys_platform == "win32"`) and
 * folds every Python-version condition of a term into one set of version intervals. What a
 * universal lock needs: the marker of a package is the `or` over the paths reaching it of the
 * `and` of the edges' markers, written as simply as `uv lock` writes them.
 *
 * A marker is held in disjunctive normal form: an `or` of terms, each an `and` of one Python
 * version range and other comparisons kept as they are. `[]` is false; `[TRUE_TERM]` is true.
 */
import { markerToString, parseMarker, type Marker, type MarkerCompare, type MarkerOperator } from './markers';

type V = number[];
/** Sorted, disjoint half-open intervals [lo, hi) of Python versions; undefined bounds are open. */
export type PythonRange = Array<[V | undefined, V | undefined]>;

/** One comparison that is not about the Python version, as text, with what contradiction checks need. */
interface Atom {
  text: string;
  /** The variable of a `==` / `!=` comparison against a literal. */
  key?: string;
  op?: '==' | '!=';
  value?: string;
  /** The comparison itself (for negation). */
  compare: MarkerCompare;
}

export interface MarkerTerm {
  python: PythonRange;
  /** Sorted by text, without repeats. */
  atoms: Atom[];
}

/** A marker in disjunctive normal form. */
export type MarkerDnf = MarkerTerm[];

export const ALL_PYTHONS: PythonRange = [[undefined, undefined]];
export const MARKER_TRUE: MarkerDnf = [{ python: ALL_PYTHONS, atoms: [] }];
export const MARKER_FALSE: MarkerDnf = [];

function cmp(a: V, b: V): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

function normalizeRange(list: PythonRange): PythonRange {
  const sorted = list
    .filter(([lo, hi]) => lo === undefined || hi === undefined || cmp(lo, hi) < 0)
    .sort((a, b) => (a[0] === undefined ? -1 : b[0] === undefined ? 1 : cmp(a[0], b[0])));
  const out: PythonRange = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && (last[1] === undefined || lo === undefined || cmp(lo, last[1]) <= 0)) {
      if (last[1] !== undefined && (hi === undefined || cmp(hi, last[1]) > 0)) last[1] = hi;
    } else out.push([lo, hi]);
  }
  return out;
}

export function rangeUnion(a: PythonRange, b: PythonRange): PythonRange {
  return normalizeRange([...a, ...b].map(([lo, hi]) => [lo, hi]));
}

export function rangeIntersect(a: PythonRange, b: PythonRange): PythonRange {
  const out: PythonRange = [];
  for (const [alo, ahi] of a) {
    for (const [blo, bhi] of b) {
      const lo = alo === undefined ? blo : blo === undefined ? alo : cmp(alo, blo) >= 0 ? alo : blo;
      const hi = ahi === undefined ? bhi : bhi === undefined ? ahi : cmp(ahi, bhi) <= 0 ? ahi : bhi;
      out.push([lo, hi]);
    }
  }
  return normalizeRange(out);
}

function complement(r: PythonRange): PythonRange {
  const out: PythonRange = [];
  let from: V | undefined;
  for (const [lo, hi] of normalizeRange(r)) {
    if (lo !== undefined) out.push([from, lo]);
    if (hi === undefined) return out;
    from = hi;
  }
  out.push([from, undefined]);
  return out;
}

export function rangeEquals(a: PythonRange, b: PythonRange): boolean {
  const eq = (x: V | undefined, y: V | undefined) => (x === undefined ? y === undefined : y !== undefined && cmp(x, y) === 0);
  return a.length === b.length && a.every(([lo, hi], i) => eq(lo, b[i]![0]) && eq(hi, b[i]![1]));
}

/** Whether every version of `a` is in `b`. */
export function rangeWithin(a: PythonRange, b: PythonRange): boolean {
  return rangeEquals(rangeIntersect(a, b), normalizeRange(a));
}

function parseV(text: string): V | undefined {
  return /^\d+(\.\d+)*$/.test(text) ? text.split('.').map(Number) : undefined;
}

const FLIP: Partial<Record<MarkerOperator, MarkerOperator>> = { '<': '>', '>': '<', '<=': '>=', '>=': '<=', '==': '==', '!=': '!=' };

/** The range of one comparison of python_version / python_full_version, or undefined when it is of another kind. */
function pythonRangeOf(name: string, op: MarkerOperator, raw: string): PythonRange | undefined {
  const text = raw.trim();
  const star = text.endsWith('.*');
  const v = parseV(star ? text.slice(0, -2) : text);
  if (!v) return undefined;
  const up = (x: V, at: number): V => [...x.slice(0, at), (x[at] ?? 0) + 1];
  const not = (r: PythonRange | undefined) => (r === undefined ? undefined : complement(r));
  if (star) {
    if (op === '==') return [[v, up(v, v.length - 1)]];
    if (op === '!=') return not([[v, up(v, v.length - 1)]]);
    return undefined;
  }
  if (name === 'python_version') {
    // The variable is X.Y: compare the minor releases with the value.
    const minor: V = [v[0]!, v[1] ?? 0];
    const exact = v.slice(2).every((x) => x === 0);
    switch (op) {
      case '<': return [[undefined, exact ? minor : up(minor, 1)]];
      case '<=': return [[undefined, up(minor, 1)]];
      case '>': return [[up(minor, 1), undefined]];
      case '>=': return [[exact ? minor : up(minor, 1), undefined]];
      case '==': return exact ? [[minor, up(minor, 1)]] : [];
      case '!=': return exact ? not([[minor, up(minor, 1)]]) : ALL_PYTHONS;
      case '~=': return v.length < 2 ? undefined : normalizeRange([[exact ? minor : up(minor, 1), up(v, v.length - 2)]]);
      default: return undefined;
    }
  }
  const full: V = [v[0]!, v[1] ?? 0, v[2] ?? 0, ...v.slice(3)];
  const next = up(full, full.length - 1);
  switch (op) {
    case '<': return [[undefined, full]];
    case '<=': return [[undefined, next]];
    case '>': return [[next, undefined]];
    case '>=': return [[full, undefined]];
    case '==': return [[full, next]];
    case '!=': return not([[full, next]]);
    case '~=': return v.length < 2 ? undefined : [[full, up(v, v.length - 2)]];
    default: return undefined;
  }
}

function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

function compareToDnf(m: MarkerCompare): MarkerDnf {
  let { left, right, op } = m;
  if (left.type === 'string' && right.type === 'variable' && FLIP[op]) [left, right, op] = [right, left, FLIP[op]!];
  if (left.type === 'variable' && right.type === 'string' && (left.name === 'python_version' || left.name === 'python_full_version')) {
    const r = pythonRangeOf(left.name, op, right.value);
    if (r) return r.length ? [{ python: r, atoms: [] }] : [];
  }
  const compare: MarkerCompare = { type: 'compare', left, op, right };
  const atom: Atom = { text: markerToString(compare), compare };
  if (left.type === 'variable' && right.type === 'string' && (op === '==' || op === '!=')) {
    atom.key = left.name;
    atom.op = op;
    atom.value = right.value;
    atom.text = `${left.name} ${op} ${quote(right.value)}`;
  }
  return [{ python: ALL_PYTHONS, atoms: [atom] }];
}

/** A marker (text or parsed) in disjunctive normal form. */
export function markerDnf(marker: Marker | string): MarkerDnf {
  const m = typeof marker === 'string' ? parseMarker(marker) : marker;
  if (m.type === 'compare') return compareToDnf(m);
  const parts = m.items.map(markerDnf);
  return m.type === 'and' ? parts.reduce(andDnf, MARKER_TRUE) : parts.reduce(orDnf, MARKER_FALSE);
}

/** `and` of two terms; undefined when they contradict each other. */
function andTerm(a: MarkerTerm, b: MarkerTerm): MarkerTerm | undefined {
  const python = rangeIntersect(a.python, b.python);
  if (python.length === 0) return undefined;
  const byText = new Map<string, Atom>();
  for (const x of [...a.atoms, ...b.atoms]) byText.set(x.text, x);
  let atoms = [...byText.values()];
  const equals = new Map<string, string>();
  for (const x of atoms) {
    if (x.op !== '==') continue;
    const prior = equals.get(x.key!);
    if (prior !== undefined && prior !== x.value) return undefined;
    equals.set(x.key!, x.value!);
  }
  for (const x of atoms) if (x.op === '!=' && equals.get(x.key!) === x.value) return undefined;
  // `k == "a"` implies `k != "b"`.
  atoms = atoms.filter((x) => !(x.op === '!=' && equals.has(x.key!)));
  atoms.sort((x, y) => (x.text < y.text ? -1 : x.text > y.text ? 1 : 0));
  return { python, atoms };
}

export function andDnf(a: MarkerDnf, b: MarkerDnf): MarkerDnf {
  const out: MarkerDnf = [];
  for (const x of a) for (const y of b) {
    const t = andTerm(x, y);
    if (t) out.push(t);
  }
  return simplifyDnf(out);
}

export function orDnf(a: MarkerDnf, b: MarkerDnf): MarkerDnf {
  return simplifyDnf([...a, ...b]);
}

const atomsKey = (t: MarkerTerm) => t.atoms.map((x) => x.text).join('\u0000');
const atomsWithin = (a: MarkerTerm, b: MarkerTerm) => a.atoms.every((x) => b.atoms.some((y) => y.text === x.text));

/**
 * Drops terms that are false within `domain` or implied by another term, merges terms that differ
 * only in their Python range, and merges `X and k == v` with `X and k != v` into `X`.
 */
export function simplifyDnf(dnf: MarkerDnf, domain: PythonRange = ALL_PYTHONS): MarkerDnf {
  let terms = dnf.map((t) => ({ python: rangeIntersect(t.python, domain), atoms: t.atoms })).filter((t) => t.python.length > 0);
  for (let changed = true; changed; ) {
    changed = false;
    const byAtoms = new Map<string, MarkerTerm>();
    for (const t of terms) {
      const k = atomsKey(t);
      const prior = byAtoms.get(k);
      if (prior) {
        prior.python = rangeUnion(prior.python, t.python);
        changed = true;
      } else byAtoms.set(k, { python: t.python, atoms: t.atoms });
    }
    terms = [...byAtoms.values()];
    // A term implied by a weaker one (fewer conditions, wider range) adds nothing.
    const kept = terms.filter((t, i) => !terms.some((u, j) => j !== i && atomsWithin(u, t) && rangeWithin(t.python, u.python) && (u.atoms.length < t.atoms.length || j < i)));
    if (kept.length !== terms.length) changed = true;
    terms = kept;
    // `X and k == v` or `X and k != v` is `X` (same range).
    outer: for (let i = 0; i < terms.length; i++) {
      for (let j = i + 1; j < terms.length; j++) {
        const [a, b] = [terms[i]!, terms[j]!];
        if (a.atoms.length !== b.atoms.length || !rangeEquals(a.python, b.python)) continue;
        const onlyA = a.atoms.filter((x) => !b.atoms.some((y) => y.text === x.text));
        const onlyB = b.atoms.filter((y) => !a.atoms.some((x) => x.text === y.text));
        if (onlyA.length !== 1 || onlyB.length !== 1) continue;
        const [x, y] = [onlyA[0]!, onlyB[0]!];
        if (x.key === undefined || x.key !== y.key || x.value !== y.value || x.op === y.op) continue;
        terms.splice(j, 1);
        terms[i] = { python: a.python, atoms: a.atoms.filter((z) => z !== x) };
        changed = true;
        break outer;
      }
    }
  }
  return terms.sort((a, b) => (atomsKey(a) < atomsKey(b) ? -1 : atomsKey(a) > atomsKey(b) ? 1 : 0));
}

/**
 * The marker with its `extra` comparisons decided for a package installed with `extras` (none:
 * the package itself): `extra == "x"` holds when x is one of them (as evaluation decides it).
 */
export function bindExtras(dnf: MarkerDnf, extras: readonly string[]): MarkerDnf {
  const out: MarkerDnf = [];
  for (const t of dnf) {
    const decided = t.atoms.filter((a) => a.key === 'extra');
    if (decided.some((a) => (a.op === '==') !== extras.includes(a.value!))) continue;
    out.push({ python: t.python, atoms: t.atoms.filter((a) => a.key !== 'extra') });
  }
  return simplifyDnf(out);
}

/** The Python versions on which the marker can hold. */
export function dnfPythonRange(dnf: MarkerDnf): PythonRange {
  return dnf.reduce<PythonRange>((acc, t) => rangeUnion(acc, t.python), []);
}

const NEGATED: Partial<Record<MarkerOperator, MarkerOperator>> = { '==': '!=', '!=': '==', in: 'not in', 'not in': 'in', '<': '>=', '>=': '<', '>': '<=', '<=': '>' };

/** `not` of a marker; undefined when a comparison has no negation as a comparison (`~=`, `===`). */
export function negateDnf(dnf: MarkerDnf): MarkerDnf | undefined {
  let out = MARKER_TRUE;
  for (const t of dnf) {
    const alternatives: MarkerDnf = [];
    if (!rangeEquals(normalizeRange(t.python), ALL_PYTHONS)) {
      const rest = complement(t.python);
      if (rest.length) alternatives.push({ python: rest, atoms: [] });
    }
    for (const a of t.atoms) {
      const op = NEGATED[a.compare.op];
      if (!op) return undefined;
      alternatives.push(...compareToDnf({ ...a.compare, op }));
    }
    out = andDnf(out, alternatives);
  }
  return out;
}

/** Whether the marker holds nowhere within `domain`. */
export function dnfIsFalse(dnf: MarkerDnf, domain: PythonRange = ALL_PYTHONS): boolean {
  return simplifyDnf(dnf, domain).length === 0;
}

/** Whether the marker holds everywhere within `domain`. */
export function dnfIsTrue(dnf: MarkerDnf, domain: PythonRange = ALL_PYTHONS): boolean {
  return simplifyDnf(dnf, domain).some((t) => t.atoms.length === 0 && rangeWithin(domain, t.python));
}

const fmt = (v: V) => v.join('.');
const minorAligned = (v: V) => v.slice(2).every((x) => x === 0);

/** `3.11.0` → `3.11`: a version written as briefly as it can be, keeping major and minor. */
const brief = (v: V): string => {
  const out = [v[0]!, v[1] ?? 0, ...v.slice(2)];
  while (out.length > 2 && out[out.length - 1] === 0) out.pop();
  return fmt(out);
};

/**
 * How a Python range is written: `packaging` (`python_version >= "3.11"`, python_full_version
 * only for a bound inside a minor release) or `uv` (as uv writes lock markers:
 * `python_full_version >= '3.11'`, `python_full_version == '3.11.*'` for one minor release).
 */
export type PythonRangeStyle = 'packaging' | 'uv';

/** A Python range as a marker, leaving out the bounds `domain` already gives; undefined when it covers the domain. */
export function pythonRangeMarker(range: PythonRange, domain: PythonRange = ALL_PYTHONS, style: PythonRangeStyle = 'packaging'): string | undefined {
  const r = rangeIntersect(range, domain);
  if (rangeWithin(domain, r)) return undefined;
  const dlo = domain[0]?.[0];
  const dhi = domain[domain.length - 1]?.[1];
  const eq = (x: V | undefined, y: V | undefined) => (x === undefined ? y === undefined : y !== undefined && cmp(x, y) === 0);
  const bound = (op: '>=' | '<', v: V) =>
    style === 'uv' ? `python_full_version ${op} '${brief(v)}'` : minorAligned(v) ? `python_version ${op} "${v[0]}.${v[1] ?? 0}"` : `python_full_version ${op} "${fmt(v)}"`;
  const parts = r.map(([lo, hi]) => {
    const needLo = lo !== undefined && !eq(lo, dlo);
    const needHi = hi !== undefined && !eq(hi, dhi);
    if (needLo && needHi && minorAligned(lo) && minorAligned(hi) && cmp(hi, [lo[0]!, (lo[1] ?? 0) + 1]) === 0) {
      return style === 'uv' ? `python_full_version == '${lo[0]}.${lo[1] ?? 0}.*'` : `python_version == "${lo[0]}.${lo[1] ?? 0}"`;
    }
    const atoms: string[] = [];
    if (needLo) atoms.push(bound('>=', lo));
    if (needHi) atoms.push(bound('<', hi));
    return atoms.join(' and ');
  });
  if (parts.length === 1) return parts[0];
  return parts.map((p) => (p.includes(' and ') ? `(${p})` : p)).join(' or ');
}

/**
 * The marker as text (as `packaging` prints it), Python ranges relative to `domain`. Undefined:
 * always true within the domain. Throws for a marker that is never true: callers drop those.
 */
export function formatDnf(dnf: MarkerDnf, domain: PythonRange = ALL_PYTHONS): string | undefined {
  const terms = simplifyDnf(dnf, domain);
  if (terms.length === 0) throw new Error('formatDnf: the marker is never true');
  const texts: string[] = [];
  for (const t of terms) {
    const py = pythonRangeMarker(t.python, domain);
    const atoms = [...t.atoms.map((a) => a.text), ...(py !== undefined ? [t.atoms.length && py.includes(' or ') ? `(${py})` : py] : [])];
    if (atoms.length === 0) return undefined;
    texts.push(atoms.join(' and '));
  }
  const text = texts.length === 1 ? texts[0]! : texts.map((t) => (/ and /.test(t) && !/^\(.*\)$/.test(t) ? `(${t})` : t)).join(' or ');
  return markerToString(parseMarker(text));
}

/** A `requires-python` specifier (`>=3.9,<4`, `~=3.10`, `==3.11.*`) as a range; everything when empty. */
export function requiresPythonRange(spec: string | undefined): PythonRange {
  let out = ALL_PYTHONS;
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(~=|===|==|!=|<=|>=|<|>)\s*(\S+)$/.exec(part);
    const r = m && m[1] !== '===' ? pythonRangeOf('python_full_version', m[1] as MarkerOperator, m[2]!) : undefined;
    if (!r) continue; // a form ranges cannot hold (a pre-release bound): no narrower than given
    out = rangeIntersect(out, r);
  }
  return out;
}

/** The Python versions a marker holds for, when it speaks of nothing but the Python version; else undefined. */
export function markerPythonRange(marker: Marker | string): PythonRange | undefined {
  const dnf = markerDnf(marker);
  if (dnf.some((t) => t.atoms.length > 0)) return undefined;
  return dnf.reduce<PythonRange>((acc, t) => rangeUnion(acc, t.python), []);
}

/** The lowest Python version of a range (`3.9` for `>=3.9`), or undefined when it has no lower bound. */
export function lowestPython(range: PythonRange): string | undefined {
  const lo = range[0]?.[0];
  if (lo === undefined) return undefined;
  const v = [lo[0]!, lo[1] ?? 0, ...lo.slice(2)];
  while (v.length > 2 && v[v.length - 1] === 0) v.pop();
  return fmt(v);
}
