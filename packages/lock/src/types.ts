/** Lock formats a Lockfile can come from (`pex`: pex's JSON lock). */
export type LockFormat = 'uv' | 'pylock' | 'poetry' | 'requirements' | 'pex';

/** One downloadable file of a locked package. */
export interface LockedArtifact {
  filename: string;
  /** Remote location (registry or direct URL). */
  url?: string;
  /** Local location, relative to the lock file's directory, posix separators. */
  path?: string;
  /** Hex sha256 digest; '' when the lock records no sha256 for this file (see `hash`). */
  sha256: string;
  /** The hash exactly as the lock writes it (`sha256:…`, `sha512:…`), when it has one. */
  hash?: string;
  size?: number;
  uploadTime?: string;
}

export type LockedSource =
  | { kind: 'registry'; /** Index URL, or a path (relative to the lock's dir) for a local index. */ url: string }
  | { kind: 'editable' | 'virtual' | 'directory' | 'path'; /** Relative to the lock's dir, posix. */ path: string }
  | { kind: 'git' | 'url'; url: string; subdirectory?: string };

/** An edge from a locked package to another. */
export interface LockedDependency {
  /** Canonical name. */
  name: string;
  /** Set when the lock holds several versions of `name` (forked resolution). */
  version?: string;
  /** `sourceKey()` of the target's source; set when the lock holds several sources of `name`. */
  source?: string;
  /** PEP 508 marker under which the edge applies. */
  marker?: string;
  /** Extras of the target activated by this edge. */
  extras: string[];
}

export interface LockedPackage {
  /** Canonical name. */
  name: string;
  /** Absent for source trees with a dynamic version. */
  version?: string;
  source: LockedSource;
  wheels: LockedArtifact[];
  sdist?: LockedArtifact;
  dependencies: LockedDependency[];
  optionalDependencies: Record<string, LockedDependency[]>;
  /** Dependency groups (PEP 735 / uv dev-dependencies); never followed by a production closure. */
  dependencyGroups: Record<string, LockedDependency[]>;
  /** Declared requirements (PEP 508 strings) of source-tree packages, as the lock records them. */
  requiresDist?: string[];
  /** Extras the package declares (`provides-extras`). */
  providesExtras?: string[];
  /** Markers of the resolution forks this entry belongs to. */
  resolutionMarkers?: string[];
  /** 1-based line of the package's table in the lock file. */
  line?: number;
}

/** One item of a set of mutually exclusive extras or groups (`conflicts` in uv.lock). */
export interface ConflictItem {
  package: string;
  extra?: string;
  group?: string;
}

export interface Lockfile {
  /** The lock file's path, as given. */
  path: string;
  format: LockFormat;
  requiresPython?: string;
  packages: LockedPackage[];
  /** Canonical names of the workspace members. */
  workspaceMembers: string[];
  /** Top-level resolution fork markers. */
  resolutionMarkers: string[];
  /** Sets of extras/groups that must not be enabled together. */
  conflicts: ConflictItem[][];
  /** Format version and revision as the lock writes them (uv: `version`, `revision`). */
  formatVersion?: { version: number; revision: number };
}
