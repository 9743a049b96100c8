import type { LockSource } from '../lock-source';
import type { LockedRequirementsRequest } from './locked-requirements';
import type { ProjectSourceRequest } from './project-request';

/** One kind of lock: how its files are recognised, and the sources it opens. */
export interface LockKindModule {
  /** Its name in messages and logs (`uv`, `pylock`, `poetry`, `requirements`). */
  readonly kind: string;
  /** Whether a file of this (lower-case) base name is of this kind; every kind is asked before any content is read. */
  byName(name: string): boolean;
  /** Whether a file of another name is of this kind, by its first 64 KiB; asked in LOCK_KINDS order. */
  byContent(head: string): boolean;
  /** The source of a project built from a lock of this kind. */
  openProject(r: ProjectSourceRequest): Promise<LockSource>;
  /**
   * The source of requirements selected from a lock of this kind (pex's `--lock`); absent for a
   * requirements file, which a requirements build takes like `-r`.
   */
  openRequirements?(r: LockedRequirementsRequest): Promise<LockSource>;
}
