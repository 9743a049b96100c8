import { formatFiles, readNxJson, updateNxJson, writeJson, type NxJsonConfiguration, type Tree } from '@nx/devkit';

export interface InitGeneratorOptions {
  skipFormat?: boolean;
}

const PLUGIN_ENTRY = { plugin: 'nx-pex', options: { buildTargetName: 'build', testTargetName: 'test' } };

/**
 * Registers nx-pex in nx.json (once; creating nx.json when the workspace has none), so that
 * `nx add nx-pex` makes every pyproject.toml a project (with its build and test targets), and keeps
 * build outputs (`dist`) and test reports (`reports`) out of git.
 */
export default async function initGenerator(tree: Tree, options: InitGeneratorOptions): Promise<void> {
  if (!tree.exists('nx.json')) {
    const nxJson: NxJsonConfiguration = { $schema: './node_modules/nx/schemas/nx-schema.json', plugins: [PLUGIN_ENTRY] };
    writeJson(tree, 'nx.json', nxJson);
  } else {
    const nxJson = readNxJson(tree) ?? {};
    const plugins = nxJson.plugins ?? [];
    if (!plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === 'nx-pex')) {
      nxJson.plugins = [...plugins, PLUGIN_ENTRY];
      updateNxJson(tree, nxJson);
    }
  }
  ignore(tree, 'dist', 'nx-pex build outputs');
  ignore(tree, 'reports', 'nx-pex test reports (JUnit XML, coverage data)');
  if (!options.skipFormat) await formatFiles(tree);
}

/** Adds `dir` to the root .gitignore unless a line already ignores it. */
function ignore(tree: Tree, dir: string, comment: string): void {
  const text = tree.exists('.gitignore') ? tree.read('.gitignore', 'utf8') ?? '' : '';
  const ignored = text.split(/\r?\n/).some((line) => ['', '/'].some((a) => ['', '/'].some((b) => line.trim() === `${a}${dir}${b}`)));
  if (ignored) return;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  tree.write('.gitignore', `${text}${sep}# ${comment}\n${dir}\n`);
}
