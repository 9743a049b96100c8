import type { TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import type { BuildContext } from '../context';

/** What opening a project's lock source takes. */
export interface ProjectSourceRequest {
  /** The project built (its pyproject.toml read). */
  project: PyProject;
  /** The lock: named (option, `[tool.nx-pex] lock-file`) or found at or above the project. */
  lockFile: string;
  /** Whether `lockFile` was named rather than found. */
  explicit: boolean;
  /** Where lock searches stop (the Nx workspace root). */
  workspaceRoot?: string;
  /** true: the project's pylock.toml must exist; false: the uv.lock; default: the pylock.toml when there is one. */
  lockPerProject?: boolean;
  targets: readonly TargetPlatform[];
  /** Told the input's description (`lock <path>`) once the lock is chosen, before it is read through. */
  announce(description: string): void;
  ctx: BuildContext;
}
