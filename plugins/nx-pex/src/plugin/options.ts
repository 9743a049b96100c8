/** Options of the nx-pex plugin entry in `nx.json`. */
export interface NxPexPluginOptions {
  /** Name of the inferred target that builds PEX files. Default `build`. */
  buildTargetName?: string;
  /** Interpreter whose Python version and platform the PEX files target. Default `python3`. */
  python?: string;
  /** Wheel store directory. Default: `$NX_PEX_STORE`, else `$XDG_CACHE_HOME/nx-pex`, else `~/.cache/nx-pex`. */
  storeDir?: string;
}

export interface NormalizedOptions {
  buildTargetName: string;
  python?: string;
  storeDir?: string;
}

export function normalizeOptions(options: NxPexPluginOptions | undefined): NormalizedOptions {
  const o = options ?? {};
  for (const key of Object.keys(o)) {
    if (!['buildTargetName', 'python', 'storeDir'].includes(key)) {
      throw new Error(`nx-pex: unknown plugin option "${key}" in nx.json. Known options: buildTargetName, python, storeDir.`);
    }
  }
  return { buildTargetName: o.buildTargetName ?? 'build', python: o.python, storeDir: o.storeDir };
}
