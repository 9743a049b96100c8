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

/** Every kind, in the order their content is recognised; a requirements file last (anything else is one). */
export const LOCK_KINDS: readonly LockKindModule[] = [pylockKind, poetryLockKind, uvLockKind, requirementsLockKind];

/** The kind of a lock file: by its name (`uv.lock`, `poetry.lock`, `pylock.toml` / `pylock.<name>.toml`, `*.txt`), else by what it holds. */
export async function lockKindOf(path: string): Promise<LockKindModule> {
  const name = basename(path).toLowerCase();
  const named = LOCK_KINDS.find((k) => k.byName(name));
  if (named) return named;
  const text = await head(path);
  return LOCK_KINDS.find((k) => k.byContent(text)) ?? requirementsLockKind;
}

export { hashedSource, requirementsLockKind };
export { resolveSource, withoutCredentials } from './resolve';
export type { LockKindModule } from './kind';
export type { ProjectSourceRequest } from './project-request';
export type { LockedRequirementsRequest } from './locked-requirements';
