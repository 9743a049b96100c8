/**
 * Python-version conditions of markers as sets of version intervals, so that the markers of a
 * per-project lock can be written as simply as uv writes them (`python_full_version < '3.11'`
 * rather than an `or` of the paths that lead there). Only the forms lock tools write are
 * understood (`<`, `>=`, `== 'X.Y.*'`, `!= 'X.Y.*'` on python_full_version; any comparison of
 * python_version with X.Y); anything else is left as it is.
 */
import { ALL_PYTHONS, rangeEquals, rangeIntersect, rangeUnion, type Marker, type PythonRange } from '@nx-pex/pep';

type V = number[];
/** [lo, hi): lo inclusive, hi exclusive; undefined bounds are open. Sorted, disjoint. */
export type Intervals = PythonRange;

function cmp(a: V, b: V): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d) return d;
  }
  return 0;
}
function parseV(text: string): V | undefined {
  return /^\d+(\.\d+)*$/.test(text) ? text.split('.').map(Number) : undefined;
}

export const EVERYTHING: Intervals = ALL_PYTHONS;
/** Set algebra on intervals: packages/pep's, which universal resolution uses too. */
export const union = rangeUnion;
export const intersect = rangeIntersect;
/** Whether two interval sets hold the same versions (in any order or split). */
export const same = (a: Intervals, b: Intervals): boolean => rangeEquals(rangeUnion(a, []), rangeUnion(b, []));

const nextMinor = (v: V): V => [v[0], (v[1] ?? 0) + 1];

/** The interval set of one comparison, or undefined when it is not a Python-version condition this module knows. */
function compareIntervals(m: Extract<Marker, { type: 'compare' }>): Intervals | undefined {
  if (m.left.type !== 'variable' || m.right.type !== 'string') return undefined;
  const name = m.left.name;
  if (name !== 'python_full_version' && name !== 'python_version') return undefined;
  const raw = m.right.value.trim();
  const star = raw.endsWith('.*');
  const v = parseV(star ? raw.slice(0, -2) : raw);
  if (!v) return undefined;
  const minorOnly = name === 'python_version' || star;
  if (star && name === 'python_full_version' && v.length !== 2) return undefined;
  if (minorOnly && v.length !== 2) return undefined;
  switch (m.op) {
    case '<':
      return star ? undefined : [[undefined, v]];
    case '>=':
      return star ? undefined : [[v, undefined]];
    case '==':
      return minorOnly ? [[v, nextMinor(v)]] : undefined;
    case '!=':
      return minorOnly ? [[undefined, v], [nextMinor(v), undefined]] : undefined;
    case '>':
      return name === 'python_version' ? [[nextMinor(v), undefined]] : undefined;
    case '<=':
      return name === 'python_version' ? [[undefined, nextMinor(v)]] : undefined;
    default:
      return undefined;
  }
}

/** The interval set a marker stands for, when it speaks only of the Python version. */
export function markerIntervals(m: Marker): Intervals | undefined {
  if (m.type === 'compare') return compareIntervals(m);
  const parts = m.items.map(markerIntervals);
  if (parts.some((p) => p === undefined)) return undefined;
  return (parts as Intervals[]).reduce((acc, p) => (m.type === 'and' ? intersect(acc, p) : union(acc, p)), m.type === 'and' ? EVERYTHING : []);
}

/** requires-python (`>=3.11`, `>=3.9,<4`) as intervals; everything when it says something else. */
export function requiresPythonIntervals(spec: string | undefined): Intervals {
  if (!spec) return EVERYTHING;
  let out = EVERYTHING;
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(>=|<|==|!=|>|<=)\s*([\d.]+(\.\*)?)$/.exec(part);
    if (!m) return EVERYTHING;
    const iv = compareIntervals({ type: 'compare', left: { type: 'variable', name: 'python_full_version' }, op: m[1] as '<', right: { type: 'string', value: m[2] } });
    if (!iv) return EVERYTHING;
    out = intersect(out, iv);
  }
  return out;
}

const fmt = (v: V) => v.join('.');

/** A marker for an interval set, relative to `domain` (bounds the domain already gives are left out); undefined for "always". */
export function intervalsToMarker(set: Intervals, domain: Intervals): string | undefined {
  const s = intersect(set, domain);
  if (same(s, domain)) return undefined;
  const [dlo, dhi] = [domain[0]?.[0], domain[domain.length - 1]?.[1]];
  const eq = (x: V | undefined, y: V | undefined) => (x === undefined ? y === undefined : y !== undefined && cmp(x, y) === 0);
  const parts = s.map(([lo, hi]) => {
    const bothBounds = lo !== undefined && hi !== undefined && !eq(lo, dlo) && !eq(hi, dhi);
    if (bothBounds && lo.length <= 2 && cmp(hi, nextMinor(lo)) === 0) return `python_full_version == '${fmt([lo[0], lo[1] ?? 0])}.*'`;
    const atoms = [];
    if (lo !== undefined && !eq(lo, dlo)) atoms.push(`python_full_version >= '${fmt(lo)}'`);
    if (hi !== undefined && !eq(hi, dhi)) atoms.push(`python_full_version < '${fmt(hi)}'`);
    return atoms.join(' and ');
  });
  if (parts.length === 1) return parts[0];
  return parts.map((p) => (p.includes(' and ') ? `(${p})` : p)).join(' or ');
}
