/**
 * The kinds of lock a build reads, and the one place that picks among them. A new kind is one
 * module exporting a LockKindModule (usually through `openClosureSource`) and one line in
 * LOCK_KINDS: see docs/architecture.md.
 */
import { basename } from 'node:path';
import { head } from '../locks';
import type { LockKindModule } from './kind';
import { hashedSource, requirementsLockKind } from './hashed';
import { poetryLockKind } from './poetry';
import { pylockKind, uvLockKind } from './uv';
import { pexLockKind } from './pex-lock';
import { LockError } from '@nx-pex/lock';

/** Every kind, in the order their content is recognised; a requirements file last (anything else is one). */
export const LOCK_KINDS: readonly LockKindModule[] = [pexLockKind, pylockKind, poetryLockKind, uvLockKind, requirementsLockKind];

/** The kind of a lock file: by its name (`uv.lock`, `poetry.lock`, `pylock.toml` / `pylock.<name>.toml`, `*.txt`), else by what it holds. */
export async function lockKindOf(path: string): Promise<LockKindModule> {
  const name = basename(path).toLowerCase();
  const named = LOCK_KINDS.find((k) => k.byName(name));
  if (named) return named;
  const text = await head(path);
  const known = LOCK_KINDS.find((k) => k !== requirementsLockKind && k.byContent(text));
  if (known) return known;
  // No requirements file starts a line with `{` or a `[table]` header.
  const json = /^\s*[{\[]\s*("|\{|\]|\}|$)/.test(text);
  const toml = /^\s*\[{1,2}\s*[A-Za-z0-9_."-]+\s*\]{1,2}\s*(#.*)?$/m.test(text);
  if (json || toml) {
    throw new LockError(
      `${path}: unknown lock format: it is ${json ? 'JSON' : 'TOML'} but not ${json ? 'a pex lock (no "locked_resolves" and "pex_version")' : 'a uv.lock, pylock.toml or poetry.lock'}. ` +
        "nx-pex reads uv.lock, pylock.toml (PEP 751), poetry.lock, pex's JSON lock (pex3 lock create) and pip requirements files.",
      path,
    );
  }
  return requirementsLockKind;
}

export { hashedSource, requirementsLockKind };
export { resolveSource, withoutCredentials } from './resolve';
export type { LockKindModule } from './kind';
export type { ProjectSourceRequest } from './project-request';
export type { LockedRequirementsRequest } from './locked-requirements';
