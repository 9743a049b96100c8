import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import {
  createNodesFromFiles,
  type CreateNodes,
  type CreateNodesContext,
  type CreateNodesResult,
  type ProjectGraphExternalNode,
  type TargetConfiguration,
} from '../nx-api';
import { UserError } from '@nx-pex/pep';
import { buildableScripts, contentPaths, contributingPaths, parsePyproject, type NxPexToolConfig, type PyProject } from '@nx-pex/project';
import { isNxPexPylock, type ClosurePackage } from '@nx-pex/lock';
import { cachedProjectPackages, fileSha, projectLockFiles, pylockNeedsSync } from '@nx-pex/engine';
import { normalizeOptions, type NormalizedOptions, type NxPexPluginOptions } from './options';
import { selfInputs, type TargetInput } from './self-inputs';
import { warnOnUnsupportedNx } from './nx-version';
import { lockCache } from './lock-cache';
import { inferTestTarget } from './test-target';

/** The external node of a locked package. */
function externalNode(p: ClosurePackage): ProjectGraphExternalNode {
  return { type: 'pypi', name: `pypi:${p.name}`, data: { version: p.version, packageName: p.name, hash: p.hash } };
}

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

/** Names of a directory's entries (sorted), or [] when it is not one: a package added or removed changes what the build takes. */
function listing(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * Inputs for what `[tool.nx-pex]` names (see `contentPaths`): a directory outside the project
 * (one inside is among the project's files already) and every file.
 */
function contentInputs(config: NxPexToolConfig, pyprojectDir: string, projectRoot: string, workspaceRoot: string): string[] {
  const { dirs, files } = contentPaths(config, pyprojectDir);
  const inputs = files.map((f) => `{workspaceRoot}/${toPosix(relative(workspaceRoot, f))}`);
  for (const dir of dirs.map((d) => toPosix(relative(workspaceRoot, d)))) {
    const inside = projectRoot === '.' ? !dir.startsWith('..') : dir === projectRoot || dir.startsWith(`${projectRoot}/`);
    if (!inside && !dir.startsWith('..')) inputs.push(`{workspaceRoot}/${dir}/**/*`);
  }
  return inputs;
}

/**
 * The files of a project that go into a PEX, as Nx input globs: its pyproject.toml, its import
 * packages (code and resources, as its build backend lays them out), the files its backend reads
 * for metadata (a hatch hook, a version file, the readme) and the `[tool.nx-pex] sources`
 * directories inside it; the whole project when its backend builds it. Notes or tests are not
 * among them.
 */
async function sourceInputs(pyproject: PyProject, projectRoot: string, workspaceRoot: string): Promise<string[]> {
  const inputs = ['{projectRoot}/pyproject.toml'];
  const inProject = (abs: string): string | undefined => {
    const rel = toPosix(relative(join(workspaceRoot, projectRoot), abs));
    return rel.startsWith('..') ? undefined : rel;
  };
  // The layout's files and directories and what the build backend reads for metadata (packages/project).
  const { files, dirs } = await contributingPaths(pyproject);
  for (const dir of dirs) {
    const rel = inProject(dir);
    if (rel !== undefined) inputs.push(rel === '' ? '{projectRoot}/**/*' : `{projectRoot}/${rel}/**/*`);
  }
  for (const file of files) {
    const rel = inProject(file);
    if (rel !== undefined) inputs.push(`{projectRoot}/${rel}`);
  }
  for (const dir of pyproject.nxPex.sources ?? []) {
    const rel = inProject(join(pyproject.dir, dir));
    if (rel !== undefined) inputs.push(rel === '' ? '{projectRoot}/**/*' : `{projectRoot}/${rel}/**/*`);
  }
  // Byte code is never taken from the sources.
  inputs.push('!{projectRoot}/**/__pycache__/**/*');
  return [...new Set(inputs)];
}

/**
 * What a project's build target makes: one PEX per console script (`[project.scripts]`, or the
 * `[tool.nx-pex] scripts` chosen from them), or one PEX named after the project for a
 * `[tool.nx-pex] entry-point`, which takes precedence as it does in the build. None: a library.
 */
function whatBuilds(pyproject: PyProject): { scripts: string[]; pexNames: string[] } {
  if (pyproject.nxPex.entryPoint !== undefined && pyproject.name) return { scripts: [], pexNames: [pyproject.name] };
  const scripts = buildableScripts(pyproject);
  return { scripts, pexNames: scripts };
}

/** `[project] name` read with a pattern from a file that does not parse, so the project keeps its name. */
function nameFromBrokenFile(text: string, projectRoot: string): string {
  const m = /^\s*\[project\][^\[]*?^\s*name\s*=\s*["']([A-Za-z0-9][A-Za-z0-9._-]*)["']/ms.exec(text);
  return m ? m[1] : projectRoot.split('/').pop() || 'python-project';
}

async function nodesForPyproject(
  file: string,
  options: NormalizedOptions,
  context: CreateNodesContext,
  self: TargetInput[],
  lockLookups: Map<string, Promise<string | undefined>>,
  lockHashes: Map<string, string | null>,
): Promise<CreateNodesResult> {
  const abs = join(context.workspaceRoot, file);
  const text = readFileSync(abs, 'utf8');
  const projectRoot = toPosix(dirname(file));
  const projectDir = dirname(abs);
  const { override: lockOverride, ownLock, lock: lockAbs } = await projectLockFiles(text, file, projectDir, context.workspaceRoot, lockLookups);
  const lock = lockAbs ? toPosix(relative(context.workspaceRoot, lockAbs)) : undefined;
  const pylockText = (() => {
    try {
      return readFileSync(join(projectDir, 'pylock.toml'), 'utf8');
    } catch {
      return null;
    }
  })();
  let lockHash = lockAbs ? lockHashes.get(lockAbs) : null;
  if (lockAbs && lockHash === undefined) {
    lockHash = fileSha(lockAbs) ?? null;
    lockHashes.set(lockAbs, lockHash);
  }
  const key = createHash('sha256')
    .update(JSON.stringify([text, lock ?? null, options, self, listing(projectDir), listing(join(projectDir, 'src')), pylockText, lockHash ?? null]))
    .digest('hex');
  const hit = memo.get(file);
  if (hit && hit.key === key) return hit.result;
  // Another process (every Nx command without the daemon) may have made the same nodes already.
  const cache = lockCache(context.workspaceRoot);
  const persistedKey = `nodes\0${file}`;
  const persisted = cache.get<CacheEntry>(persistedKey);
  if (persisted?.key === key) {
    memo.set(file, persisted);
    return persisted.result;
  }

  let pyproject: PyProject | undefined;
  let problem: string | undefined;
  try {
    pyproject = parsePyproject(text, abs);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    // One broken project stays one broken project: it keeps a build target, which fails with this message.
    problem = e.message.split(context.workspaceRoot + sep).join('');
  }
  if (pyproject && !pyproject.name) {
    memo.set(file, { key, result: {} });
    cache.set(persistedKey, { key, result: {} });
    return {};
  }
  const name = pyproject?.name ?? nameFromBrokenFile(text, projectRoot);
  const { scripts, pexNames } = pyproject ? whatBuilds(pyproject) : { scripts: [], pexNames: [] };
  const targets: Record<string, TargetConfiguration> = {};
  const sources = pyproject ? await sourceInputs(pyproject, projectRoot, context.workspaceRoot) : ['{projectRoot}/**/*'];
  if (pexNames.length > 0 || problem) {
    const python = options.python ?? 'python3';
    const inputs: TargetInput[] = [SOURCES_INPUT, `^${SOURCES_INPUT}`];
    const perProject = options.lockPerProject && !ownLock;
    if (perProject) inputs.push('{projectRoot}/pylock.toml');
    if (lock && (!perProject || pylockNeedsSync(pyproject?.name, pylockText, lockAbs, projectDir, cache))) inputs.push(`{workspaceRoot}/${lock}`);
    // The files and directories `[tool.nx-pex]` names (options whose contents are cache inputs:
    // `sources`, complete platform files) are inputs too, when outside the project.
    if (pyproject) inputs.push(...contentInputs(pyproject.nxPex, dirname(abs), projectRoot, context.workspaceRoot));
    inputs.push(...self);
    // Built for named platforms, the PEX does not depend on the local interpreter (unless the
    // plugin names one, which pex then targets too): the platform strings are in pyproject.toml
    // (an input already), complete platform files are inputs.
    const { platforms, completePlatforms } = pyproject?.nxPex ?? {};
    if (!(platforms?.length || completePlatforms?.length) || options.python) inputs.push(interpreterInput(python));
    // A base image on disk inside the workspace (a layout directory or a tarball) goes into the image.
    const imageBase = pyproject?.nxPex.image ? pyproject.nxPex.imageBase : undefined;
    if (imageBase && /^\.{1,2}\//.test(imageBase)) {
      const rel = toPosix(relative(context.workspaceRoot, join(dirname(abs), imageBase.replace(/:[^/]*$/, ''))));
      if (!rel.startsWith('..')) inputs.push(`{workspaceRoot}/${rel}`, `{workspaceRoot}/${rel}/**/*`);
    }
    // Without an externalDependencies input Nx hashes every external node of the workspace, so any
    // lock bump would rebuild everything; the closure's own packages are hashed through the
    // pylock.toml and the project's edges to its pypi:<name> nodes.
    if (!self.some((i) => typeof i === 'object' && 'externalDependencies' in i)) inputs.push({ externalDependencies: [] });
    // An entry point of [tool.nx-pex] is read by the build from pyproject.toml: the target names no scripts then.
    const targetOptions: Record<string, unknown> = problem || scripts.length === 0 ? {} : { scripts };
    if (options.python) targetOptions.python = options.python;
    if (options.storeDir) targetOptions.storeDir = options.storeDir;
    targetOptions.lockPerProject = options.lockPerProject;
    const lockName = perProject ? `${projectRoot === '.' ? '' : `${projectRoot}/`}pylock.toml` : (lock ?? 'the uv lock');
    targets[options.buildTargetName] = {
      executor: 'nx-pex:build',
      options: targetOptions,
      cache: true,
      inputs,
      outputs: ['{workspaceRoot}/dist/{projectRoot}'],
      ...(perProject ? { syncGenerators: ['nx-pex:sync'] } : {}),
      metadata: {
        technologies: ['python'],
        description: problem
          ? `Cannot build ${name}: ${problem}`
          : `Build ${pexNames.map((s) => `${s}.pex`).join(', ')} from ${lockName}`,
        help: {
          command: 'npx nx-pex build --help',
          example: { options: { scripts: [scripts[0] ?? name] } },
        },
      },
    };
  }
  // A project whose [tool.nx-pex] asks for an image can push it: never cached (the registry is
  // outside the workspace), after its build.
  if (scripts.length > 0 && !problem && pyproject?.nxPex.image === true) {
    const pushOptions: Record<string, unknown> = {};
    if (options.storeDir) pushOptions.storeDir = options.storeDir;
    targets[options.pushTargetName] = {
      executor: 'nx-pex:push',
      options: pushOptions,
      cache: false,
      dependsOn: [options.buildTargetName],
      metadata: {
        technologies: ['python'],
        description: `Push ${name}'s image${scripts.length > 1 ? 's' : ''} to ${pyproject.nxPex.imageRepository ?? 'its image-repository'}`,
        help: { command: 'npx nx-pex push --help', example: { options: { imageTags: ['1.0.0'] } } },
      },
    };
  }
  // A service no uv.lock, poetry.lock or requirements file governs gets its pylock.toml from
  // `nx run <project>:lock` (not cached: the indexes change without the workspace changing).
  // A pylock.toml nx-pex did not write is the user's own lock: no inferred target replaces it.
  const userLock = pylockText !== null && !isNxPexPylock(pylockText);
  if (pexNames.length > 0 && !problem && !lockAbs && !lockOverride && !userLock) {
    const { platforms, completePlatforms } = pyproject?.nxPex ?? {};
    const lockOptions = { python: options.python, platforms, completePlatforms, storeDir: options.storeDir };
    targets[options.lockTargetName] = {
      executor: 'nx-pex:lock',
      options: Object.fromEntries(Object.entries(lockOptions).filter(([, v]) => v !== undefined && !(Array.isArray(v) && !v.length))),
      cache: false,
      metadata: { technologies: ['python'], description: `Resolve ${name}'s dependencies into its pylock.toml`, help: { command: 'npx nx-pex lock --help', example: { options: { universal: true } } } },
    };
  }
  // A project with tests gets a test target (test-target.ts).
  const test = pyproject && !problem
    ? inferTestTarget({
        projectDir, projectRoot, pyprojectText: text, entries: listing(projectDir), name, sourcesInput: SOURCES_INPUT, self,
        interpreter: interpreterInput(options.python ?? 'python3'), reportsDir: options.testReportsDirectory, python: options.python,
        storeDir: options.storeDir, lockPerProject: options.lockPerProject, uvLock: ownLock ? undefined : lock, ownLock: ownLock !== undefined,
      })
    : undefined;
  if (test) targets[options.testTargetName] = test;
  const root = projectRoot;
  const result: CreateNodesResult = {
    projects: {
      [root]: {
        name,
        root,
        projectType: pexNames.length > 0 ? 'application' : 'library',
        tags: ['lang:python'],
        namedInputs: {
          // What goes into a PEX: pyproject.toml, import packages with their resources, -D directories.
          [SOURCES_INPUT]: sources,
        },
        targets,
        metadata: { technologies: ['python'] },
      },
    },
  };
  const packages =
    pyproject && !ownLock ? cachedProjectPackages(cache, name, projectDir, lockAbs, options.lockPerProject, pylockText) : undefined;
  if (packages?.length) result.externalNodes = Object.fromEntries(packages.map((p) => [`pypi:${p.name}`, externalNode(p)]));
  memo.set(file, { key, result });
  cache.set(persistedKey, { key, result });
  return result;
}

/** Every `pyproject.toml` with a `[project]` table is a project; one with `[project.scripts]` gets a build target. */
export const createNodes: CreateNodes<NxPexPluginOptions> = [
  '**/pyproject.toml',
  async (files, rawOptions, context) => {
    warnOnUnsupportedNx();
    const options = normalizeOptions(rawOptions);
    const self = selfInputs(context.workspaceRoot);
    // Projects below the same directory share the lock lookups of its parents, within one call.
    const lockLookups = new Map<string, Promise<string | undefined>>();
    const lockHashes = new Map<string, string | null>();
    const sorted = [...files].sort();
    const results = await createNodesFromFiles(
      (file, _opts, ctx) => nodesForPyproject(file, options, ctx, self, lockLookups, lockHashes),
      sorted,
      options,
      context,
    );
    lockCache(context.workspaceRoot).flush();
    return separateSameNames(results, options.buildTargetName);
  },
];

/**
 * Two pyproject.toml files with one distribution name would be two Nx projects of one name, which
 * stops Nx from computing the graph. Each keeps a project, named `<name>@<root>`, whose build
 * fails saying which files clash.
 */
function separateSameNames<T extends [string, CreateNodesResult]>(results: T[], buildTargetName: string): T[] {
  const byName = new Map<string, string[]>();
  for (const [file, r] of results) {
    for (const p of Object.values(r.projects ?? {})) if (p.name) byName.set(p.name, [...(byName.get(p.name) ?? []), file]);
  }
  const clashing = new Set([...byName].filter(([, files]) => files.length > 1).map(([name]) => name));
  if (clashing.size === 0) return results;
  return results.map(([file, r]) => {
    const entries = Object.entries(r.projects ?? {});
    if (!entries.some(([, p]) => p.name && clashing.has(p.name))) return [file, r] as T;
    const projects = Object.fromEntries(
      entries.map(([root, p]) => {
        if (!p.name || !clashing.has(p.name)) return [root, p];
        const problem =
          `Two workspace projects are named ${p.name}: ${byName.get(p.name)!.join(' and ')}. ` +
          `Distribution names must be unique in a workspace; rename one ([project] name) and run \`uv lock\`.`;
        const build = p.targets?.[buildTargetName];
        const targets = { ...p.targets, [buildTargetName]: { ...(build ?? { executor: 'nx-pex:build', cache: true }), options: { problem }, metadata: { ...build?.metadata, description: problem } } };
        return [root, { ...p, name: `${p.name}@${root}`, targets }];
      }),
    );
    // The clashing projects' packages are left out of the graph until the names are fixed.
    return [file, { ...r, projects }] as T;
  });
}
