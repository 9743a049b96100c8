import { UserError } from '@nx-pex/pep';

/** A pip configuration file that Python's configparser would reject. */
export class PipConfigError extends UserError {}

/**
 * The sections of an INI file, read the way Python's `configparser.RawConfigParser`
 * (which pip uses) reads them: `=` or `:` between key and value, whole-line `#`/`;`
 * comments, values continued on more-indented lines (joined with newlines),
 * lower-cased keys, case-sensitive section names, and `[DEFAULT]` values
 * inherited by every other section.
 */
export function parseIni(text: string, file: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string[]>>();
  const defaults = new Map<string, string[]>();
  let current: Map<string, string[]> | undefined;
  let option: string | undefined;
  let indentLevel = 0;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const stripped = raw.trim();
    const isComment = stripped.startsWith('#') || stripped.startsWith(';');
    const value = isComment ? '' : stripped;
    if (!value) {
      if (!isComment && current && option !== undefined) current.get(option)?.push('');
      return;
    }
    const indent = raw.length - raw.trimStart().length;
    if (current && option !== undefined && indent > indentLevel) {
      current.get(option)!.push(value);
      return;
    }
    indentLevel = indent;
    const header = /^\[(.+)\]/.exec(value);
    if (header) {
      const name = header[1];
      if (name === 'DEFAULT') {
        current = defaults;
      } else {
        if (sections.has(name)) throw new PipConfigError(`${file}:${lineNo}: section [${name}] appears twice.`);
        current = new Map();
        sections.set(name, current);
      }
      option = undefined;
      return;
    }
    if (!current) {
      throw new PipConfigError(`${file}:${lineNo}: a setting appears before any [section] header (pip expects e.g. [global]).`);
    }
    const m = /^(.*?)\s*([=:])\s*(.*)$/.exec(value);
    if (!m || !m[1].trimEnd()) {
      throw new PipConfigError(`${file}:${lineNo}: cannot parse ${JSON.stringify(raw)}; expected "key = value".`);
    }
    const key = m[1].trimEnd().toLowerCase();
    if (current.has(key)) throw new PipConfigError(`${file}:${lineNo}: option "${key}" appears twice in one section.`);
    current.set(key, [m[3]]);
    option = key;
  });
  const join = (parts: string[]) => parts.join('\n').trimEnd();
  const out = new Map<string, Map<string, string>>();
  for (const [name, opts] of sections) {
    const merged = new Map<string, string>();
    for (const [k, v] of defaults) merged.set(k, join(v));
    for (const [k, v] of opts) merged.set(k, join(v));
    out.set(name, merged);
  }
  return out;
}
