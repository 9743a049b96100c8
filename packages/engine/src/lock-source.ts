/**
 * What goes into a PEX, whatever says so: a lock source. One implementation per kind of input
 * (a uv.lock or PEP 751 pylock.toml, a poetry.lock, a hashed requirements file, requirements
 * resolved against the indexes) answers, for each target platform, the same four things: the
 * files to fetch or build, the first-party projects whose code goes in as sources, the
 * requirements PEX-INFO names (what pex's runtime activates at boot), and the pins of the
 * third-party closure (what the deps layer keys on). The build steps after it never look at the
 * kind. The kinds and how a new one plugs in: docs/architecture.md.
 */
import type { TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import type { LockedPackage, RequirementsFile } from '@nx-pex/lock';
import type { ArtifactRequest } from '@nx-pex/store';
import type { BuildContext } from './context';
import type { IndexContext } from './pipeline';

/** What a source selects for one target platform. */
export interface TargetSelection {
  target: TargetPlatform;
  /** Wheels to fetch into the store (each verified against its sha256). */
  wheels: ArtifactRequest[];
  /** Locked packages with no wheel for the target: their sdist is fetched and built into one. */
  sdists: LockedPackage[];
  /** Workspace projects whose code goes into the PEX as sources. */
  firstParty: PyProject[];
  /**
   * PEX-INFO requirements for this target (markers as written): pex's runtime activates them and,
   * through the wheels' metadata, their dependencies, so together they must reach every
   * third-party package selected, with the extras the lock selected them with.
   */
  requirements: string[];
  /** `name==version` (or `name` for a package without a version) of every third-party package selected. */
  pins: string[];
  /**
   * A check of the fetched files before the PEX is written (`pathOf` gives a store path by
   * sha256): a resolution compares the metadata it took on the index's word with the wheels'.
   */
  afterFetch?: FetchedCheck;
}

/** A check of fetched store files (by sha256) that throws a UserError when they are not what was selected. */
export type FetchedCheck = (pathOf: (sha256: string) => string | undefined) => Promise<void>;

/** Where the packages come from, and how to select them per target. */
export interface LockSource {
  /** The lock file read, when there is one (locked sdists and local files are found from it). */
  readonly lockFile?: string;
  /** How the build's first log line names the input (`lock <path>`, `resolving 3 requirements …`). */
  readonly description: string;
  /** Directory whose `uv.toml` / `pyproject.toml` index settings apply. */
  readonly projectRoot: string;
  /** Requirements files whose index lines join the index settings. */
  readonly requirementsFiles?: readonly RequirementsFile[];
  /**
   * The selection for one target. Sources that read a lock need no index here (they did their
   * checks when opened); hashed requirements and resolution look files up through `index`.
   */
  select(target: TargetPlatform, index: IndexContext, ctx: BuildContext): Promise<TargetSelection>;
  /**
   * The order in which targets are selected (indexes into `targets`), when it matters: a
   * resolution selects first the targets this machine cannot build sdists for, so that they fail
   * before any build for another target. Default: as given.
   */
  order?(targets: readonly TargetPlatform[], index: IndexContext, ctx: BuildContext): Promise<number[]>;
}
