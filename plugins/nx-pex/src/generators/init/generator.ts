import { posix } from 'node:path';
import { formatFiles, glob, logger, readNxJson, updateNxJson, writeJson, type NxJsonConfiguration, type Tree } from '../../nx-api';
import { parsePyproject } from '@nx-pex/project';
import { unsupportedNx } from '../../plugin/nx-version';
import { syncProjectLocks } from '../sync/generator';

export interface InitGeneratorOptions {
  skipFormat?: boolean;
  /** Create a uv workspace root (pyproject.toml with [tool.uv.workspace]) when the workspace has none; default true. */
  uvWorkspace?: boolean;
  /** Do not write the per-project locks (the sync) now. */
  skipSync?: boolean;
}

const PLUGIN_ENTRY = { plugin: 'nx-pex', options: { buildTargetName: 'build', testTargetName: 'test' } };
const DEFAULT_MEMBERS = ['services/*', 'libs/*'];

/**
 * Sets a workspace up for nx-pex and says what it did: registers the plugin in nx.json (once;
 * creating nx.json when the workspace has none), so that every pyproject.toml is a project with its
 * build and test targets; keeps build outputs (`dist`) and test reports (`reports`) out of git;
 * creates the uv workspace root the project generators add to when there is none; and writes each
 * project's pylock.toml from the uv.lock (the sync), so the first `nx build` is not out of sync.
 */
export default async function initGenerator(tree: Tree, options: InitGeneratorOptions): Promise<void> {
  const unsupported = unsupportedNx();
  if (unsupported) throw new Error(unsupported);
  const did: string[] = [];
  if (!tree.exists('nx.json')) {
    const nxJson: NxJsonConfiguration = { $schema: './node_modules/nx/schemas/nx-schema.json', plugins: [PLUGIN_ENTRY] };
    writeJson(tree, 'nx.json', nxJson);
    did.push('created nx.json with the nx-pex plugin');
  } else {
    const nxJson = readNxJson(tree) ?? {};
    const plugins = nxJson.plugins ?? [];
    if (!plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === 'nx-pex')) {
      nxJson.plugins = [...plugins, PLUGIN_ENTRY];
      updateNxJson(tree, nxJson);
      did.push('registered the nx-pex plugin in nx.json');
    }
  }
  if (ignore(tree, 'dist', 'nx-pex build outputs')) did.push('added dist to .gitignore');
  if (ignore(tree, 'reports', 'nx-pex test reports (JUnit XML, coverage data)')) did.push('added reports to .gitignore');
  if (options.uvWorkspace !== false) did.push(...uvWorkspaceRoot(tree));
  if (!options.skipSync) {
    const report = syncProjectLocks(tree);
    if (report.written.length) did.push(`wrote ${report.written.join(', ')} from the uv.lock (the sync; commit them)`);
    for (const p of report.problems) did.push(`could not write a lock: ${p}`);
  }
  if (!options.skipFormat) await formatFiles(tree);
  for (const line of did) logger.info(`nx-pex: ${line}`);
  if (did.length === 0) logger.info('nx-pex: the workspace is already set up');
}

/** Adds `dir` to the root .gitignore unless a line already ignores it; true when it did. */
function ignore(tree: Tree, dir: string, comment: string): boolean {
  const text = tree.exists('.gitignore') ? tree.read('.gitignore', 'utf8') ?? '' : '';
  const ignored = text.split(/\r?\n/).some((line) => ['', '/'].some((a) => ['', '/'].some((b) => line.trim() === `${a}${dir}${b}`)));
  if (ignored) return false;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  tree.write('.gitignore', `${text}${sep}# ${comment}\n${dir}\n`);
  return true;
}

function parsed(tree: Tree, file: string) {
  try {
    return parsePyproject(tree.read(file, 'utf-8') ?? '', file);
  } catch {
    return undefined;
  }
}

/**
 * The uv workspace root the python-service / python-library generators add projects to: when no
 * pyproject.toml has [tool.uv.workspace], a root pyproject.toml with one, whose members are the
 * directories that hold the existing Python projects (`services/*`), or `services/*` and `libs/*`.
 * Returns what it did or why it did not.
 */
function uvWorkspaceRoot(tree: Tree): string[] {
  const pyprojects = glob(tree, ['**/pyproject.toml']).filter((f) => !f.split('/').includes('node_modules')).sort();
  if (pyprojects.some((f) => parsed(tree, f)?.uvWorkspace)) return [];
  if (tree.exists('pyproject.toml')) {
    return [
      'pyproject.toml has no [tool.uv.workspace]: add one (members = ["services/*", "libs/*"]) so that `nx g nx-pex:python-service` and `uv lock` see every project',
    ];
  }
  const dirs = pyprojects.map((f) => posix.dirname(f)).filter((d) => d !== '.');
  const found = [...new Set(dirs.map((d) => (posix.dirname(d) === '.' ? d : `${posix.dirname(d)}/*`)))].sort();
  const members = found.length ? found : DEFAULT_MEMBERS;
  const list = members.map((m) => JSON.stringify(m)).join(', ');
  tree.write(
    'pyproject.toml',
    `# The uv workspace of this repository's Python projects (uv lock writes uv.lock here; nx-pex reads it).\n` +
      `[tool.uv.workspace]\nmembers = [${list}]\n`,
  );
  return [`created pyproject.toml, a uv workspace root with members ${members.join(', ')}${pyprojects.length ? '; run `uv lock`, then `nx sync`' : ''}`];
}
