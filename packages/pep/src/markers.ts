import { UserError } from './errors';
import { canonicalizeName } from './names';
import { isValidVersion, versionSatisfies } from './version';

/** The values PEP 508 markers are evaluated against. */
export interface MarkerEnvironment {
  implementation_name: string;
  implementation_version: string;
  os_name: string;
  platform_machine: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  python_full_version: string;
  platform_python_implementation: string;
  python_version: string;
  sys_platform: string;
}

export type MarkerVariableName = keyof MarkerEnvironment | 'extra';
export type MarkerOperator = '===' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '~=' | 'in' | 'not in';
export type MarkerValue = { type: 'variable'; name: MarkerVariableName } | { type: 'string'; value: string };

/** One comparison such as `python_version >= "3.8"`. */
export interface MarkerCompare {
  type: 'compare';
  left: MarkerValue;
  op: MarkerOperator;
  right: MarkerValue;
}
/**
 * `and`/`or` of two or more markers. `grouped` records that the expression was
 * written in parentheses, so printing keeps them (as `packaging` does).
 */
export interface MarkerBoolean {
  type: 'and' | 'or';
  items: Marker[];
  grouped?: boolean;
}
export type Marker = MarkerCompare | MarkerBoolean;

/** A marker that does not follow the PEP 508 grammar. */
export class MarkerSyntaxError extends UserError {
  constructor(
    readonly text: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`Invalid environment marker: ${reason} at position ${position}\n    ${text}\n    ${' '.repeat(position)}^`);
  }
}

/** A comparison that PEP 508 leaves undefined, e.g. `os_name ~= "posix"`. */
export class MarkerEvaluationError extends UserError {}

const VARIABLES: Record<string, MarkerVariableName> = {
  implementation_name: 'implementation_name',
  implementation_version: 'implementation_version',
  os_name: 'os_name',
  platform_machine: 'platform_machine',
  platform_release: 'platform_release',
  platform_system: 'platform_system',
  platform_version: 'platform_version',
  python_full_version: 'python_full_version',
  platform_python_implementation: 'platform_python_implementation',
  python_version: 'python_version',
  sys_platform: 'sys_platform',
  extra: 'extra',
  // Legacy spellings accepted by setuptools/packaging.
  'os.name': 'os_name',
  'sys.platform': 'sys_platform',
  'platform.version': 'platform_version',
  'platform.machine': 'platform_machine',
  'platform.python_implementation': 'platform_python_implementation',
  python_implementation: 'platform_python_implementation',
};
// Longest names first so that `os.name` is not read as a prefix of something else.
const VARIABLE_NAMES = Object.keys(VARIABLES).sort((a, b) => b.length - a.length);
const OPERATORS: MarkerOperator[] = ['===', '==', '!=', '<=', '>=', '~=', '<', '>'];

class MarkerParser {
  pos = 0;
  constructor(
    readonly text: string,
    readonly base: number = 0,
    readonly full: string = text,
  ) {}

  fail(reason: string, at = this.pos): never {
    throw new MarkerSyntaxError(this.full, this.base + at, reason);
  }
  skipWs(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
  atEnd(): boolean {
    this.skipWs();
    return this.pos >= this.text.length;
  }
  keyword(word: string): boolean {
    this.skipWs();
    if (this.text.startsWith(word, this.pos)) {
      const next = this.text[this.pos + word.length];
      if (next === undefined || !/[A-Za-z0-9_.]/.test(next)) {
        this.pos += word.length;
        return true;
      }
    }
    return false;
  }

  parseOr(): Marker {
    const items = [this.parseAnd()];
    while (this.keyword('or')) items.push(this.parseAnd());
    return items.length === 1 ? items[0] : { type: 'or', items };
  }
  parseAnd(): Marker {
    const items = [this.parseExpr()];
    while (this.keyword('and')) items.push(this.parseExpr());
    return items.length === 1 ? items[0] : { type: 'and', items };
  }
  parseExpr(): Marker {
    this.skipWs();
    if (this.text[this.pos] === '(') {
      const open = this.pos;
      this.pos++;
      const inner = this.parseOr();
      this.skipWs();
      if (this.text[this.pos] !== ')') {
        this.fail(this.pos >= this.text.length ? `unclosed '(' opened at position ${this.base + open}` : "expected ')' or 'and'/'or'");
      }
      this.pos++;
      return inner.type === 'compare' ? inner : { ...inner, grouped: true };
    }
    const left = this.parseValue();
    const op = this.parseOperator();
    const right = this.parseValue();
    return { type: 'compare', left, op, right };
  }
  parseValue(): MarkerValue {
    this.skipWs();
    const ch = this.text[this.pos];
    if (ch === '"' || ch === "'") {
      const end = this.text.indexOf(ch, this.pos + 1);
      if (end < 0) this.fail('unterminated string');
      const value = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return { type: 'string', value };
    }
    for (const name of VARIABLE_NAMES) {
      if (this.text.startsWith(name, this.pos)) {
        const next = this.text[this.pos + name.length];
        if (next === undefined || !/[A-Za-z0-9_.]/.test(next)) {
          this.pos += name.length;
          return { type: 'variable', name: VARIABLES[name] };
        }
      }
    }
    this.fail(this.pos >= this.text.length ? 'expected a marker variable or quoted string, found the end' : 'expected a marker variable or quoted string');
  }
  parseOperator(): MarkerOperator {
    this.skipWs();
    for (const op of OPERATORS) {
      if (this.text.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    if (this.keyword('in')) return 'in';
    const save = this.pos;
    if (this.keyword('not')) {
      // `not` and `in` must be separated by whitespace.
      if (/\s/.test(this.text[this.pos] ?? '') && this.keyword('in')) return 'not in';
      this.pos = save;
      this.fail("expected 'not in'");
    }
    this.fail('expected a comparison operator (<, <=, !=, ==, >=, >, ~=, ===, in, not in)');
  }
}

function normalizeExtraLiterals(m: Marker): Marker {
  if (m.type !== 'compare') return { ...m, items: m.items.map(normalizeExtraLiterals) };
  const fix = (v: MarkerValue, other: MarkerValue): MarkerValue =>
    v.type === 'string' && other.type === 'variable' && other.name === 'extra' ? { type: 'string', value: canonicalizeName(v.value) } : v;
  return { ...m, left: fix(m.left, m.right), right: fix(m.right, m.left) };
}

/** Parses a PEP 508 environment marker (the part after `;`). Throws MarkerSyntaxError. */
export function parseMarker(text: string): Marker {
  return parseMarkerAt(text, 0, text);
}

/** @internal Parses a marker that is a slice of a longer text, for error positions. */
export function parseMarkerAt(text: string, base: number, full: string): Marker {
  const p = new MarkerParser(text, base, full);
  if (p.atEnd()) p.fail('empty marker');
  const m = p.parseOr();
  if (!p.atEnd()) {
    p.fail(p.text[p.pos] === ')' ? "unmatched ')'" : "expected 'and', 'or' or the end of the marker");
  }
  const top = m.type === 'compare' ? m : { type: m.type, items: m.items };
  return normalizeExtraLiterals(top);
}

function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}
function valueToString(v: MarkerValue): string {
  return v.type === 'variable' ? v.name : quote(v.value);
}

function toText(m: Marker, parent: 'and' | 'or' | undefined): string {
  if (m.type === 'compare') return `${valueToString(m.left)} ${m.op} ${valueToString(m.right)}`;
  const inner = m.items.map((i) => toText(i, m.type)).join(` ${m.type} `);
  const needsParens = parent !== undefined && (m.grouped || (m.type === 'or' && parent === 'and'));
  return needsParens ? `(${inner})` : inner;
}

/** Prints a marker the way `packaging` does: `python_version > "3" and (os_name == "a" or os_name == "b")`. */
export function markerToString(marker: Marker): string {
  return toText(marker, undefined);
}

function compareStrings(lhs: string, op: MarkerOperator, rhs: string): boolean {
  switch (op) {
    case 'in':
      return rhs.includes(lhs);
    case 'not in':
      return !rhs.includes(lhs);
    case '===':
      return lhs.toLowerCase() === rhs.toLowerCase();
    case '==':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    case '<':
      return lhs < rhs;
    case '<=':
      return lhs <= rhs;
    case '>':
      return lhs > rhs;
    case '>=':
      return lhs >= rhs;
    case '~=':
      throw new MarkerEvaluationError(`Undefined comparison '~=' between '${lhs}' and '${rhs}': both sides must be PEP 440 versions.`);
  }
}

function compareValues(lhs: string, op: MarkerOperator, rhs: string): boolean {
  if (op !== 'in' && op !== 'not in' && op !== '===' && isValidVersion(lhs) && isValidVersion(rhs)) {
    // PEP 440 rules: `lhs` is the candidate version, `op rhs` the specifier.
    if (op === '~=' && !/\./.test(rhs.split('+')[0])) {
      // `~=` needs at least two release segments (`~=3` is not a specifier), as packaging says.
      throw new MarkerEvaluationError(`'${lhs} ~= ${rhs}' cannot be evaluated: ~= needs a version with at least two parts, such as "${rhs}.0".`);
    }
    return versionSatisfies(lhs, `${op}${rhs}`, { prereleases: true });
  }
  if (op === '==' || op === '!=') {
    // `==` with a wildcard (`python_version == "3.*"`) is a version comparison too.
    if (isValidVersion(lhs) && /^\s*[0-9!.]+\.\*\s*$/.test(rhs)) {
      return versionSatisfies(lhs, `${op}${rhs.trim()}`, { prereleases: true });
    }
  }
  return compareStrings(lhs, op, rhs);
}

function evaluateCompare(m: MarkerCompare, env: MarkerEnvironment, extras: readonly string[] | undefined): boolean {
  const isExtra = (v: MarkerValue) => v.type === 'variable' && v.name === 'extra';
  if (isExtra(m.left) || isExtra(m.right)) {
    const other = isExtra(m.left) ? m.right : m.left;
    const given = (extras ?? []).map(canonicalizeName);
    const literal = other.type === 'string' ? canonicalizeName(other.value) : undefined;
    if (literal !== undefined && (m.op === '==' || m.op === '===')) return given.includes(literal);
    if (literal !== undefined && m.op === '!=') return !given.includes(literal);
    const resolve = (v: MarkerValue, extra: string) => (v.type === 'string' ? canonicalizeName(v.value) : v.name === 'extra' ? extra : env[v.name]);
    return given.some((e) => compareValues(resolve(m.left, e), m.op, resolve(m.right, e)));
  }
  const usesFull = (v: MarkerValue) => v.type === 'variable' && v.name === 'python_full_version';
  if ((usesFull(m.left) || usesFull(m.right)) && typeof env.python_full_version !== 'string' && typeof env.python_version === 'string') {
    return evaluateWithoutPatch(m, env, extras);
  }
  const resolve = (v: MarkerValue): string => {
    if (v.type === 'string') return v.value;
    const value = env[v.name as keyof MarkerEnvironment];
    if (typeof value !== 'string') {
      throw new MarkerEvaluationError(`The marker environment has no value for '${v.name}'.`);
    }
    return value;
  };
  return compareValues(resolve(m.left), m.op, resolve(m.right));
}

/**
 * A `python_full_version` comparison in an environment that knows only `python_version` (pex's
 * abbreviated platforms): decided when it holds alike for every patch release of that version
 * (`python_full_version < "3.11"` on 3.12), an error when the patch release matters.
 */
function evaluateWithoutPatch(m: MarkerCompare, env: MarkerEnvironment, extras: readonly string[] | undefined): boolean {
  const minor = env.python_version;
  const patches = new Set([0, 1, 999]);
  for (const side of [m.left, m.right]) {
    if (side.type !== 'string') continue;
    const v = /^\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(side.value);
    if (v && `${v[1]}.${v[2]}` === minor && v[3] !== undefined) for (const d of [-1, 0, 1]) patches.add(Math.max(0, Number(v[3]) + d));
  }
  const answers = new Set([...patches].map((p) => evaluateCompare(m, { ...env, python_full_version: `${minor}.${p}` }, extras)));
  if (answers.size === 1) return [...answers][0]!;
  throw new MarkerEvaluationError(
    `'${markerToString(m)}' depends on the patch release of Python ${minor}, which the platform does not give: ` +
      `name it in the platform (e.g. cp-${minor}.9 instead of cp-${minor.replace('.', '')}) or use a complete platform.`,
  );
}

function evaluate(m: Marker, env: MarkerEnvironment, extras: readonly string[] | undefined): boolean {
  switch (m.type) {
    case 'compare':
      return evaluateCompare(m, env, extras);
    case 'and':
      return m.items.every((i) => evaluate(i, env, extras));
    case 'or':
      return m.items.some((i) => evaluate(i, env, extras));
  }
}

/**
 * Evaluates a marker. `extra == "x"` is true when `x` (normalised) is one of
 * `extras`; without extras every `extra == ...` is false (and `extra != ...` true).
 */
export function evaluateMarker(marker: Marker | string, env: MarkerEnvironment, extras?: readonly string[]): boolean {
  const m = typeof marker === 'string' ? parseMarker(marker) : marker;
  return evaluate(m, env, extras);
}
