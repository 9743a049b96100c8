import { formatFiles, readNxJson, updateNxJson, type Tree } from '@nx/devkit';

export interface InitGeneratorOptions {
  skipFormat?: boolean;
}

/** Registers nx-pex in nx.json (once), so `nx add nx-pex` makes every pyproject.toml a project. */
export default async function initGenerator(tree: Tree, options: InitGeneratorOptions): Promise<void> {
  const nxJson = readNxJson(tree) ?? {};
  const plugins = nxJson.plugins ?? [];
  const present = plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === 'nx-pex');
  if (!present) {
    nxJson.plugins = [...plugins, { plugin: 'nx-pex', options: { buildTargetName: 'build' } }];
    updateNxJson(tree, nxJson);
  }
  if (!options.skipFormat) await formatFiles(tree);
}
