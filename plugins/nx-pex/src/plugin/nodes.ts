import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import {
  createNodesFromFiles,
  type CreateNodes,
  type CreateNodesContext,
  type CreateNodesResult,
  type TargetConfiguration,
} from '@nx/devkit';
import { buildableScripts, findLockFile, parsePyproject } from '@nx-pex/project';
import { normalizeOptions, type NormalizedOptions, type NxPexPluginOptions } from './options';
import { selfInputs, type TargetInput } from './self-inputs';

/** Named input holding a Python project's own files; `^python-sources` is the same for its dependencies. */
export const SOURCES_INPUT = 'python-sources';

const PROBE =
  'import platform, sys, sysconfig; ' +
  'print(sys.implementation.name, *sys.version_info[:3], sys.abiflags, sysconfig.get_platform(), *platform.libc_ver())';

/** A runtime input naming the interpreter the PEX targets, so a cached build never crosses Python versions or platforms. */
export function interpreterInput(python: string): TargetInput {
  return { runtime: `${python} -c "${PROBE}"` };
}

interface CacheEntry {
  key: string;
  result: CreateNodesResult;
}
// Results keyed by pyproject content, lock location and options: a project's nodes are recomputed only when those change.
const memo = new Map<string, CacheEntry>();

function toPosix(path: string): string {
  return path.split('\\').join('/');
}

async function nodesForPyproject(
  file: string,
  options: NormalizedOptions,
  context: CreateNodesContext,
  self: TargetInput[],
  lockLookups: Map<string, Promise<string | undefined>>,
): Promise<CreateNodesResult> {
  const abs = join(context.workspaceRoot, file);
  const text = readFileSync(abs, 'utf8');
  const projectRoot = toPosix(dirname(file));
  // `[tool.nx-pex] lock-file` names the project's lock; otherwise discovery finds it.
  const lockOverride = text.includes('lock-file') ? parsePyproject(text, file).nxPex.lockFile : undefined;
  const lockAbs = lockOverride ? join(dirname(abs), lockOverride) : await findLockFile(dirname(abs), context.workspaceRoot, lockLookups);
  const lock = lockAbs ? toPosix(relative(context.workspaceRoot, lockAbs)) : undefined;
  const key = createHash('sha256')
    .update(JSON.stringify([text, lock ?? null, options, self]))
    .digest('hex');
  const hit = memo.get(file);
  if (hit && hit.key === key) return hit.result;

  const pyproject = parsePyproject(text, file);
  if (!pyproject.name) {
    memo.set(file, { key, result: {} });
    return {};
  }
  const scripts = buildableScripts(pyproject);
  const targets: Record<string, TargetConfiguration> = {};
  if (scripts.length > 0) {
    const python = options.python ?? 'python3';
    const inputs: TargetInput[] = [SOURCES_INPUT, `^${SOURCES_INPUT}`];
    if (lock) inputs.push(`{workspaceRoot}/${lock}`);
    // `[tool.nx-pex] sources` directories outside the project are inputs too.
    for (const dir of pyproject.nxPex.sources ?? []) {
      const rel = toPosix(relative(context.workspaceRoot, join(dirname(abs), dir)));
      const inside = projectRoot === '.' ? !rel.startsWith('..') : rel === projectRoot || rel.startsWith(`${projectRoot}/`);
      if (!inside && !rel.startsWith('..')) inputs.push(`{workspaceRoot}/${rel}/**/*`);
    }
    inputs.push(...self);
    // Built for named platforms, the PEX does not depend on the local interpreter (unless the
    // plugin names one, which pex then targets too): the platform strings are in pyproject.toml
    // (an input already), complete platform files are inputs.
    const { platforms, completePlatforms } = pyproject.nxPex;
    for (const c of completePlatforms ?? []) {
      if (!c.trim().startsWith('{')) inputs.push(`{workspaceRoot}/${toPosix(relative(context.workspaceRoot, join(dirname(abs), c)))}`);
    }
    if (!(platforms?.length || completePlatforms?.length) || options.python) inputs.push(interpreterInput(python));
    const targetOptions: Record<string, unknown> = { scripts };
    if (options.python) targetOptions.python = options.python;
    if (options.storeDir) targetOptions.storeDir = options.storeDir;
    targets[options.buildTargetName] = {
      executor: 'nx-pex:build',
      options: targetOptions,
      cache: true,
      inputs,
      outputs: ['{workspaceRoot}/dist/{projectRoot}'],
      metadata: {
        technologies: ['python'],
        description: `Build ${scripts.map((s) => `${s}.pex`).join(', ')} from ${lock ?? 'the uv lock'}`,
        help: {
          command: 'npx nx-pex build --help',
          example: { options: { scripts: [scripts[0]] } },
        },
      },
    };
  }
  const root = projectRoot;
  const result: CreateNodesResult = {
    projects: {
      [root]: {
        name: pyproject.name,
        root,
        projectType: scripts.length > 0 ? 'application' : 'library',
        tags: ['lang:python'],
        namedInputs: {
          // Tests never go into a PEX; everything else under the project may (code and resources).
          [SOURCES_INPUT]: ['{projectRoot}/**/*', '!{projectRoot}/tests/**/*', '!{projectRoot}/test/**/*'],
        },
        targets,
        metadata: { technologies: ['python'] },
      },
    },
  };
  memo.set(file, { key, result });
  return result;
}

/** Every `pyproject.toml` with a `[project]` table is a project; one with `[project.scripts]` gets a build target. */
export const createNodes: CreateNodes<NxPexPluginOptions> = [
  '**/pyproject.toml',
  async (files, rawOptions, context) => {
    const options = normalizeOptions(rawOptions);
    const self = selfInputs(context.workspaceRoot);
    // Projects below the same directory share the lock lookups of its parents, within one call.
    const lockLookups = new Map<string, Promise<string | undefined>>();
    const sorted = [...files].sort();
    return createNodesFromFiles(
      (file, _opts, ctx) => nodesForPyproject(file, options, ctx, self, lockLookups),
      sorted,
      options,
      context,
    );
  },
];
