/**
 * The few bits of Python semantics that leak into PEX bytes: string ordering, `repr()` of
 * strings and tuples, and `json.dumps(sort_keys=True, separators=(",", ":"))`.
 */

/** Python's `str` ordering: by Unicode code point (JS's default sort compares UTF-16 units). */
export function pyCompare(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function pySorted(values: Iterable<string>): string[] {
  return [...values].sort(pyCompare);
}

const NON_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** `repr(s)` for a Python 3 `str`. */
export function pyReprStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
    else if (cp < 0x7f) out += ch;
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      out += cp <= 0xff ? '\\x' + hex(cp, 2) : cp <= 0xffff ? '\\u' + hex(cp, 4) : '\\U' + hex(cp, 8);
    } else out += ch;
  }
  return out + quote;
}

/** `repr(tuple(items))` for a tuple of `str`. */
export function pyReprTuple(items: readonly string[]): string {
  if (items.length === 0) return '()';
  if (items.length === 1) return `(${pyReprStr(items[0]!)},)`;
  return `(${items.map(pyReprStr).join(', ')})`;
}

export function pyReprBool(b: boolean): string {
  return b ? 'True' : 'False';
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * `json.dumps(value, sort_keys=True, separators=(",", ":"))` with Python's default
 * `ensure_ascii=True`: every character outside printable ASCII becomes `\uXXXX`.
 */
export function pyJsonDumps(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`PEX-INFO holds only integers, got ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return pyJsonStr(value);
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(',')}]`;
  // Object keys are serialised explicitly: JS objects enumerate integer-like keys first.
  return `{${pySorted(Object.keys(value))
    .map((key) => `${pyJsonStr(key)}:${pyJsonDumps(value[key]!)}`)
    .join(',')}}`;
}

function pyJsonStr(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + hex(c.charCodeAt(0), 4));
}
