import { UserError } from './errors';
import { Marker, MarkerSyntaxError, markerToString, parseMarkerAt } from './markers';
import { InvalidSpecifier, normalizeSpecifier } from './version';

/** A parsed PEP 508 dependency specification. */
export interface Requirement {
  /** The project name as written (use canonicalizeName to compare). */
  name: string;
  /** Extras as written, without duplicates, in the order given. */
  extras: string[];
  /** Normalised specifier set (`<2,>=1`), '' when there is none. */
  specifier: string;
  /** Direct reference (`name @ url`). */
  url?: string;
  marker?: Marker;
}

/** A dependency specification that does not follow PEP 508. */
export class RequirementSyntaxError extends UserError {
  constructor(
    readonly text: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`Invalid requirement '${text}': ${reason} at position ${position}\n    ${text}\n    ${' '.repeat(position)}^`);
  }
}

/**
 * The longest requirement nx-pex reads (characters). Real ones, markers and direct URLs included,
 * are far shorter; a longer one is refused before it reaches an index (as a URL of that length).
 */
export const MAX_REQUIREMENT_LENGTH = 8192;

/** A requirement longer than MAX_REQUIREMENT_LENGTH: named by its length and its start, not echoed whole. */
export class RequirementTooLongError extends RequirementSyntaxError {
  constructor(full: string) {
    const start = `${full.slice(0, 60)}…`;
    super(start, 0, `${full.length} characters long`);
    this.message =
      `Invalid requirement '${start}': it is ${full.length} characters long, more than the ${MAX_REQUIREMENT_LENGTH} nx-pex accepts. ` +
      'Check where it came from (a requirements file or argument joined by mistake).';
  }
}

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/;

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}
  ws(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
  peek(): string | undefined {
    return this.text[this.pos];
  }
  fail(reason: string, at = this.pos): never {
    throw new RequirementSyntaxError(this.text, at, reason);
  }
}

function parseSpecifierList(c: Cursor, closing: string | undefined): string {
  // version_one (',' version_one)*, each version made of PEP 508's version characters.
  const start = c.pos;
  const clauses: string[] = [];
  for (;;) {
    c.ws();
    const m = /^(===|~=|==|!=|<=|>=|<|>)\s*([A-Za-z0-9\-_.*+!]+)/.exec(c.text.slice(c.pos));
    if (!m) c.fail('expected a version specifier such as >=1.0');
    clauses.push(`${m[1]}${m[2]}`);
    c.pos += m[0].length;
    c.ws();
    if (c.peek() === ',') {
      c.pos++;
      c.ws();
      // A trailing comma is tolerated, as packaging does.
      if (c.pos >= c.text.length || c.peek() === ';' || c.peek() === closing) break;
      continue;
    }
    break;
  }
  if (closing !== undefined) {
    if (c.peek() !== closing) c.fail(`expected ',' or '${closing}'`);
    c.pos++;
  }
  try {
    return normalizeSpecifier(clauses.join(','));
  } catch (e) {
    if (e instanceof InvalidSpecifier) c.fail(e.message.replace(/^Invalid version specifier /, 'invalid version specifier '), start);
    throw e;
  }
}

/** Parses a PEP 508 requirement such as `requests[socks]>=2.0; python_version > "3"`. */
export function parseRequirement(text: string): Requirement {
  if (text.length > MAX_REQUIREMENT_LENGTH) throw new RequirementTooLongError(text);
  const c: Cursor = new Cursor(text);
  c.ws();
  const nameMatch = NAME.exec(text.slice(c.pos));
  if (!nameMatch) c.fail('expected a project name');
  const name = nameMatch[0];
  c.pos += name.length;
  c.ws();

  const extras: string[] = [];
  if (c.peek() === '[') {
    c.pos++;
    c.ws();
    if (c.peek() !== ']') {
      for (;;) {
        c.ws();
        const m = NAME.exec(text.slice(c.pos));
        if (!m) c.fail('expected an extra name');
        if (!extras.includes(m[0])) extras.push(m[0]);
        c.pos += m[0].length;
        c.ws();
        if (c.peek() === ',') {
          c.pos++;
          continue;
        }
        if (c.peek() === ']') break;
        c.fail("expected ',' or ']' after an extra");
      }
    }
    c.pos++;
    c.ws();
  }

  let specifier = '';
  let url: string | undefined;
  const ch = c.peek();
  if (ch === '@') {
    c.pos++;
    c.ws();
    const start = c.pos;
    while (c.pos < text.length && !/\s/.test(text[c.pos])) c.pos++;
    url = text.slice(start, c.pos);
    if (!url) c.fail('expected a URL after @');
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url)) c.fail('expected a URL with a scheme (https://, file://, git+https://, ...)', start);
    // PEP 508 requires whitespace between a URL and its marker: a ';' glued to the URL is part of it.
  } else if (ch === '(') {
    c.pos++;
    specifier = parseSpecifierList(c, ')');
  } else if (ch !== undefined && /[<>=!~]/.test(ch)) {
    specifier = parseSpecifierList(c, undefined);
  }
  c.ws();

  let marker: Marker | undefined;
  if (c.peek() === ';') {
    c.pos++;
    const start = c.pos;
    try {
      marker = parseMarkerAt(text.slice(start), start, text);
    } catch (e) {
      if (e instanceof MarkerSyntaxError) c.fail(`invalid marker: ${e.reason}`, e.position);
      throw e;
    }
    c.pos = text.length;
  }
  c.ws();
  if (c.pos < text.length) {
    c.fail(url === undefined ? "expected a version specifier, '@ <url>', '; <marker>' or the end" : "expected '; <marker>' or the end");
  }
  const req: Requirement = { name, extras, specifier };
  if (url !== undefined) req.url = url;
  if (marker !== undefined) req.marker = marker;
  return req;
}

/** Prints a requirement like `packaging`'s `str(Requirement)`: `foo[a,b]<2,>=1; python_version > "3"`. */
export function formatRequirement(req: Requirement): string {
  let out = req.name;
  if (req.extras.length) out += `[${[...new Set(req.extras)].sort().join(',')}]`;
  if (req.specifier) out += normalizeSpecifier(req.specifier);
  if (req.url) {
    out += ` @ ${req.url}`;
    if (req.marker) out += ' ';
  }
  if (req.marker) out += `; ${markerToString(req.marker)}`;
  return out;
}
