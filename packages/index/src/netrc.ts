import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** One `machine` (or the `default`) entry of a netrc file. */
export interface NetrcEntry {
  login?: string;
  password?: string;
  account?: string;
}

export interface Netrc {
  machines: Map<string, NetrcEntry>;
  default?: NetrcEntry;
}

/** Split netrc text into tokens: whitespace-separated, `"..."` quoted with `\` escapes, `#` comments. */
function tokens(text: string): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li];
    let i = 0;
    while (i < line.length) {
      const c = line[i];
      if (c === ' ' || c === '\t') {
        i++;
        continue;
      }
      if (c === '#' && (out.length === 0 || i === 0 || /\s/.test(line[i - 1]))) break;
      let tok = '';
      if (c === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) i++;
          tok += line[i++];
        }
        i++;
      } else {
        while (i < line.length && !/\s/.test(line[i])) {
          if (line[i] === '\\' && i + 1 < line.length) i++;
          tok += line[i++];
        }
      }
      out.push(tok);
    }
    if (out.length >= 2 && out[out.length - 2] === 'macdef') {
      out.splice(out.length - 2, 2);
      // A macro's body runs to the first empty line and holds no credentials.
      while (li + 1 < lines.length && lines[li + 1].trim() !== '') li++;
    }
  }
  return out;
}

/** Parse a netrc file's text: `machine`, `default`, `login`, `password`, `account`, `macdef`. */
export function parseNetrc(text: string): Netrc {
  const result: Netrc = { machines: new Map() };
  const toks = tokens(text);
  let current: NetrcEntry | undefined;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t === 'machine') {
      const name = toks[++i];
      if (name === undefined) break;
      current = {};
      // The first entry for a machine wins, as in curl and Python's netrc.
      if (!result.machines.has(name.toLowerCase())) result.machines.set(name.toLowerCase(), current);
    } else if (t === 'default') {
      current = {};
      result.default ??= current;
    } else if ((t === 'login' || t === 'password' || t === 'account') && current) {
      const v = toks[++i];
      if (v !== undefined) current[t] = v;
    }
  }
  return result;
}

/** The netrc file in use: `$NETRC`, else `~/.netrc`. */
export function netrcPath(env: NodeJS.ProcessEnv = process.env, home?: string): string {
  if (env.NETRC?.trim()) return env.NETRC;
  return path.join(home ?? env.HOME ?? os.homedir(), '.netrc');
}

/** Read and parse the netrc file, or undefined when there is none or it cannot be read. */
export function readNetrc(file: string): Netrc | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseNetrc(text);
}

/** The login and password netrc gives for `hostname` (its machine entry, else `default`). */
export function netrcCredentials(netrc: Netrc | undefined, hostname: string): { username: string; password: string } | undefined {
  if (!netrc) return undefined;
  const entry = netrc.machines.get(hostname.toLowerCase()) ?? netrc.default;
  if (!entry || (entry.login === undefined && entry.password === undefined)) return undefined;
  return { username: entry.login ?? '', password: entry.password ?? '' };
}
