/** Reading lock files written in TOML: parse errors and shape mistakes as LockErrors that point at the file. */
import { parse as parseToml, TomlError } from 'smol-toml';
import { maskCredentials } from '@nx-pex/pep';
import { LockError } from './errors';

export type Table = Record<string, unknown>;

export function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Parses a lock file's text; invalid TOML is a LockError at its line and column, quoting the
 * lines around it (credentials in them masked), then `remedy` when given.
 */
export function parseLockToml(text: string, path: string, remedy?: string): Table {
  try {
    return parseToml(text) as Table;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      throw new LockError(
        // The quoted lines may hold index URLs with credentials: masked.
        maskCredentials(`${path}:${e.line}:${e.column}: not valid TOML: ${first}\n${e.codeblock}${remedy ? `\n${remedy}` : ''}`),
        path,
        e.line,
        e.column,
      );
    }
    throw e;
  }
}

/** `<file>:<line>: <where>: <problem>. <remedy>` as a LockError. */
export function lockShapeError(file: string, line: number | undefined, where: string, problem: string, remedy: string): LockError {
  const at = line !== undefined ? `${file}:${line}` : file;
  return new LockError(`${at}: ${where}: ${problem}. ${remedy}`, file, line);
}

/** Reads values out of one TOML table of a lock file; a shape mistake is a LockError pointing at the file and entry. */
export abstract class TableReader {
  /** What the user should do about a shape mistake (one sentence). */
  protected abstract readonly remedy: string;

  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly where: string,
  ) {}

  fail(problem: string): never {
    throw lockShapeError(this.file, this.line, this.where, problem, this.remedy);
  }

  str(t: Table, key: string): string | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(`\`${key}\` must be a string`);
    return v;
  }

  reqStr(t: Table, key: string): string {
    const v = this.str(t, key);
    if (v === undefined) this.fail(`\`${key}\` is missing`);
    return v;
  }

  bool(t: Table, key: string): boolean | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(`\`${key}\` must be true or false`);
    return v;
  }

  int(t: Table, key: string): number | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(`\`${key}\` must be a non-negative integer`);
    return v;
  }

  arr(t: Table, key: string): unknown[] {
    const v = t[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(`\`${key}\` must be an array`);
    return v;
  }

  strArr(t: Table, key: string): string[] {
    const v = t[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(`\`${key}\` must be an array of strings`);
    return v as string[];
  }

  tables(t: Table, key: string): Table[] {
    const v = t[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => !isTable(x))) this.fail(`\`${key}\` must be an array of tables`);
    return v as Table[];
  }

  table(t: Table, key: string): Table | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (!isTable(v)) this.fail(`\`${key}\` must be a table`);
    return v;
  }
}
