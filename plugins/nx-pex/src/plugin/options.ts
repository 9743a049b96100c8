/** Options of the nx-pex plugin entry in `nx.json`. */
export interface NxPexPluginOptions {
  /** Name of the inferred target that builds PEX files. Default `build`. */
  buildTargetName?: string;
  /** Name of the inferred target that writes the pylock.toml of a service no other lock governs. Default `lock`. */
  lockTargetName?: string;
  /** Name of the inferred target that pushes a project's image (projects with `image = true` in [tool.nx-pex]). Default `push`. */
  pushTargetName?: string;
  /** Interpreter whose Python version and platform the PEX files target. Default `python3`. */
  python?: string;
  /** Wheel store directory. Default: `$NX_PEX_STORE`, else `$XDG_CACHE_HOME/nx-pex`, else `~/.cache/nx-pex`. */
  storeDir?: string;
  /**
   * Each project builds from its own generated `pylock.toml` (kept by the `nx-pex:sync` generator),
   * which is its cache input instead of the whole uv.lock. Default true.
   */
  lockPerProject?: boolean;
}

export interface NormalizedOptions {
  buildTargetName: string;
  lockTargetName: string;
  pushTargetName: string;
  python?: string;
  storeDir?: string;
  lockPerProject: boolean;
}

export function normalizeOptions(options: NxPexPluginOptions | undefined): NormalizedOptions {
  const o = options ?? {};
  for (const key of Object.keys(o)) {
    if (!['buildTargetName', 'lockTargetName', 'pushTargetName', 'python', 'storeDir', 'lockPerProject'].includes(key)) {
      throw new Error(`nx-pex: unknown plugin option "${key}" in nx.json. Known options: buildTargetName, lockTargetName, pushTargetName, python, storeDir, lockPerProject.`);
    }
  }
  if (o.lockPerProject !== undefined && typeof o.lockPerProject !== 'boolean') {
    throw new Error(`nx-pex: the plugin option "lockPerProject" in nx.json must be true or false.`);
  }
  return { buildTargetName: o.buildTargetName ?? 'build', lockTargetName: o.lockTargetName ?? 'lock', pushTargetName: o.pushTargetName ?? 'push', python: o.python, storeDir: o.storeDir, lockPerProject: o.lockPerProject ?? true };
}
