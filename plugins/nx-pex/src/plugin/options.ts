/** Options of the nx-pex plugin entry in `nx.json`. */
export interface NxPexPluginOptions {
  /** Name of the inferred target that builds PEX files. Default `build`. */
  buildTargetName?: string;
  /** Name of the inferred target that writes the pylock.toml of a service no other lock governs. Default `lock`. */
  lockTargetName?: string;
  /** Name of the inferred target that pushes a project's image (projects with `image = true` in [tool.nx-pex]). Default `push`. */
  pushTargetName?: string;
  /** Name of the inferred target that runs a project's tests with pytest. Default `test`. */
  testTargetName?: string;
  /** Workspace-relative directory under which each test target writes `<projectRoot>/junit.xml`. Default `reports`. */
  testReportsDirectory?: string;
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
  testTargetName: string;
  testReportsDirectory: string;
  python?: string;
  storeDir?: string;
  lockPerProject: boolean;
}

export function normalizeOptions(options: NxPexPluginOptions | undefined): NormalizedOptions {
  const o = options ?? {};
  for (const key of Object.keys(o)) {
    if (!['buildTargetName', 'lockTargetName', 'pushTargetName', 'testTargetName', 'testReportsDirectory', 'python', 'storeDir', 'lockPerProject'].includes(key)) {
      throw new Error(
        `nx-pex: unknown plugin option "${key}" in nx.json. Known options: buildTargetName, lockTargetName, pushTargetName, testTargetName, testReportsDirectory, python, storeDir, lockPerProject.`,
      );
    }
  }
  if (o.lockPerProject !== undefined && typeof o.lockPerProject !== 'boolean') {
    throw new Error(`nx-pex: the plugin option "lockPerProject" in nx.json must be true or false.`);
  }
  const reports = (o.testReportsDirectory ?? 'reports').replace(/\\/g, '/').replace(/^\.\/|\/+$/g, '');
  if (!reports || reports.startsWith('/') || reports.split('/').includes('..')) {
    throw new Error(`nx-pex: the plugin option "testReportsDirectory" in nx.json must be a directory inside the workspace (e.g. "reports"), not "${o.testReportsDirectory}".`);
  }
  return {
    testTargetName: o.testTargetName ?? 'test',
    testReportsDirectory: reports,
    buildTargetName: o.buildTargetName ?? 'build',
    lockTargetName: o.lockTargetName ?? 'lock',
    pushTargetName: o.pushTargetName ?? 'push',
    python: o.python, storeDir: o.storeDir, lockPerProject: o.lockPerProject ?? true };
}
