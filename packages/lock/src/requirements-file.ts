/**
 * pip requirements files as `pip-compile --generate-hashes`, `uv export`, `poetry export` and
 * `pip freeze` write them: one requirement a line with its `--hash` options and marker, `#`
 * comments, `\` continuations, `${VAR}` environment variables, `-r`/`-c` includes and the index
 * lines (`--index-url`, `--extra-index-url`, `--find-links`, `--no-index`). A file whose every
 * requirement is pinned (`==`) and hashed is a lock: it names the exact files to install.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { canonicalizeName, parseRequirement, RequirementSyntaxError, UserError, versionSatisfies, type Requirement } from '@nx-pex/pep';
import { LockError } from './errors';

/** One requirement of a requirements file. */
export interface RequirementLine {
  /** The PEP 508 requirement as written, options removed. */
  text: string;
  requirement: Requirement;
  /** `--hash` values: `sha256:<hex>` (lower case hex) or `<algorithm>:<hex>`. */
  hashes: string[];
  /** The file and 1-based line it starts on. */
  file: string;
  line: number;
}

export interface RequirementsFile {
  /** The file read first, absolute. */
  path: string;
  requirements: RequirementLine[];
  /** Lines of `-c` files: they restrict versions (and may carry hashes) but install nothing. */
  constraints: RequirementLine[];
  /** `-i/--index-url`: the index, instead of the configured one. */
  indexUrl?: string;
  /** `--extra-index-url`, in order. */
  extraIndexUrls: string[];
  /** `-f/--find-links`: URLs, or absolute paths (relative ones are taken from the file's directory). */
  findLinks: string[];
  /** `--no-index`. */
  noIndex: boolean;
  /** `--trusted-host`: hosts whose certificates are not checked. */
  trustedHosts: string[];
}

// Options that change nothing for a build that takes wheels of pinned versions.
const IGNORED = new Set(['--prefer-binary', '--only-binary', '--pre', '--require-hashes', '--use-feature']);

/** `${NAME}` as pip expands it (upper-case letters, digits and `_`); unset variables stay as written. */
function expandEnv(line: string, env: NodeJS.ProcessEnv): string {
  return line.replace(/\$\{([A-Z0-9_]+)\}/g, (whole, name: string) => env[name] ?? whole);
}

/** Splits a logical line into words, keeping quoted parts together (for markers such as `; python_version < "3.11"`). */
function words(line: string): string[] {
  return line.split(/\s+/).filter(Boolean);
}

const isUrl = (s: string) => /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s);

/**
 * Reads a requirements file and the files it includes. `env` expands `${VAR}`; `seen` guards
 * against include cycles.
 */
export interface ReadRequirementsOptions {
  /**
   * Parses a requirement line. Default: PEP 508 only. A resolver that also takes local projects,
   * wheel and sdist files passes its own; `-e` lines are then taken as plain requirements, as pex
   * takes them (without it they are an error: a PEX cannot hold an editable install).
   */
  parseLine?: (text: string) => Requirement;
}

export async function readRequirementsFileLock(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: ReadRequirementsOptions = {},
): Promise<RequirementsFile> {
  const file = resolve(path);
  const out: RequirementsFile = { path: file, requirements: [], constraints: [], extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] };
  await readInto(out, file, false, env, [], opts);
  checkConstraints(out);
  return out;
}

async function readInto(
  out: RequirementsFile,
  file: string,
  constraint: boolean,
  env: NodeJS.ProcessEnv,
  stack: string[],
  opts: ReadRequirementsOptions,
): Promise<void> {
  if (stack.includes(file)) throw new LockError(`${file} includes itself through ${[...stack.slice(stack.indexOf(file) + 1), file].join(' -> ')}.`, file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const where = stack.length ? ` (included by ${stack[stack.length - 1]})` : '';
    throw new LockError(`Cannot read the requirements file ${file}${where} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, file);
  }
  const lines = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!;
    // A comment ends the line (a `#` at its start or after whitespace; `#` inside a URL fragment stays).
    const strip = (l: string) => l.replace(/(^|\s)#.*$/, '');
    line = strip(line);
    while (/\\\s*$/.test(line) && i + 1 < lines.length) line = line.replace(/\\\s*$/, ' ') + strip(lines[++i]!);
    line = expandEnv(line.trim(), env);
    if (!line) continue;
    const at = `${file}:${lineNo}`;
    const fail = (msg: string): never => {
      throw new LockError(`${at}: ${msg}`, file, lineNo);
    };

    if (line.startsWith('-')) {
      const m = /^(--?[A-Za-z][\w-]*)(?:\s*=\s*|\s+)?(.*)$/.exec(line)!;
      const option = m[1]!;
      const value = m[2]!.trim();
      const need = () => value || fail(`${option} needs a value.`);
      switch (option) {
        case '-r':
        case '--requirement':
        case '--requirements':
          await readInto(out, resolveFrom(file, need()), constraint, env, [...stack, file], opts);
          continue;
        case '-c':
        case '--constraint':
        case '--constraints':
          await readInto(out, resolveFrom(file, need()), true, env, [...stack, file], opts);
          continue;
        case '-i':
        case '--index-url':
          out.indexUrl = need();
          continue;
        case '--extra-index-url':
          out.extraIndexUrls.push(need());
          continue;
        case '-f':
        case '--find-links':
          out.findLinks.push(isUrl(need()) ? value : resolveFrom(file, value));
          continue;
        case '--no-index':
          out.noIndex = true;
          continue;
        case '--trusted-host':
          out.trustedHosts.push(need());
          continue;
        case '-e':
        case '--editable':
          // Taken as a plain requirement, as pex takes it, where the caller can build one.
          if (opts.parseLine) {
            line = need();
            break;
          }
          fail(`${option} ${value} is an editable install, which a PEX cannot hold. Build the project as a workspace project (nx-pex build --project) or leave it out of the exported file (uv export --no-emit-project, poetry export without path dependencies).`);
          continue;
        default:
          if (IGNORED.has(option)) continue;
          fail(`the pip option ${option} is not supported in requirements files by nx-pex; remove it.`);
      }
    }

    // A requirement, then its options (`--hash`), which follow the marker.
    const parts = words(line);
    const hashes: string[] = [];
    const reqWords: string[] = [];
    for (let w = 0; w < parts.length; w++) {
      const word = parts[w]!;
      if (!word.startsWith('--')) {
        if (hashes.length) fail(`"${word}" follows a --hash option; options go after the requirement and its marker.`);
        reqWords.push(word);
        continue;
      }
      const [opt, inline] = word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
      if (opt !== '--hash') fail(`the per-requirement option ${opt} is not supported by nx-pex; remove it.`);
      const value = inline ?? parts[++w];
      const hm = value ? /^([a-z0-9]+):([0-9a-fA-F]+)$/.exec(value) : null;
      if (!hm) fail(`--hash ${value ?? ''} is not <algorithm>:<hex digest> (e.g. --hash=sha256:…).`);
      if (hm![1] === 'sha256' && hm![2]!.length !== 64) fail(`--hash ${value} is not a sha256 digest (64 hex digits).`);
      hashes.push(`${hm![1]}:${hm![2]!.toLowerCase()}`);
    }
    const reqText = reqWords.join(' ');
    let requirement: Requirement;
    try {
      requirement = (opts.parseLine ?? parseRequirement)(reqText);
    } catch (e) {
      return fail(`"${e instanceof RequirementSyntaxError ? e.text : reqText}" is not a valid requirement: ${(e as Error).message}`);
    }
    (constraint ? out.constraints : out.requirements).push({ text: reqText, requirement, hashes, file, line: lineNo });
  }
}

function resolveFrom(file: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(file), path);
}

/** Each requirement's pin must satisfy the constraints on its package; a constraint's hashes go to an unhashed requirement. */
function checkConstraints(rf: RequirementsFile): void {
  for (const c of rf.constraints) {
    const name = canonicalizeName(c.requirement.name);
    for (const r of rf.requirements) {
      if (canonicalizeName(r.requirement.name) !== name) continue;
      const pin = pinOf(r.requirement);
      if (pin !== undefined && c.requirement.specifier && !versionSatisfies(pin, c.requirement.specifier, { prereleases: true })) {
        throw new LockError(
          `${r.file}:${r.line}: ${r.text} does not satisfy the constraint ${c.text} (${c.file}:${c.line}). Change the pin or the constraint.`,
          r.file,
          r.line,
        );
      }
      if (r.hashes.length === 0 && c.hashes.length > 0) r.hashes = [...c.hashes];
    }
  }
}

/** The version a requirement pins with `==` or `===`, else undefined. */
export function pinOf(req: Requirement): string | undefined {
  const m = /^===?\s*([^,<>=!~*\s]+)$/.exec(req.specifier.trim());
  return m ? m[1] : undefined;
}

/**
 * Whether the file is a lock: every requirement pinned and hashed (pip's hash-checking mode).
 * A file with some hashes but not all is an error naming the requirements without them, as pip
 * refuses it too.
 */
export function isHashedLock(rf: RequirementsFile): boolean {
  const hashed = rf.requirements.filter((r) => r.hashes.length > 0);
  if (hashed.length === 0) return false;
  const bad = rf.requirements.filter((r) => r.hashes.length === 0 || pinOf(r.requirement) === undefined || r.requirement.url);
  if (bad.length) {
    throw new UserError(
      `${rf.path}: some requirements have --hash options, so every requirement must be pinned (==) and hashed, as pip requires; these are not:\n  ` +
        bad.map((r) => `${r.file}:${r.line}: ${r.text}${r.hashes.length ? '' : ' (no --hash)'}`).join('\n  ') +
        '\nRegenerate the file with its hashes (pip-compile --generate-hashes, uv export, poetry export).',
    );
  }
  return true;
}
