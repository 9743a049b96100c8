import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { canonicalizeName, evaluateMarker, formatRequirement, UserError, type TargetPlatform } from '@nx-pex/pep';
import { buildableScripts, readPyproject, type PyProject } from '@nx-pex/project';
import { rootRequirements, selectWheels, type LockedArtifact } from '@nx-pex/lock';
import type { ProgressReporter } from '@nx-pex/store';
import { assertInside, isReplaceableOutput, writePex } from '@nx-pex/pex';
import { checkOptions, mergeOptions, toolOptions, writerOptions, type LayeredOptions } from './options';
import { buildSources, entryPointOf, lockedArtifactRequest, lockedProjects, targetFor, withFetchedInputs } from './pipeline';
import { checkLayerOptions, removeStaleLayers, writeProjectLayers } from './layers';
import type { IndexOverrides } from './runtime';
import { checkOutputName, checkUtf8Path, outputTmpDir } from './outputs';
import { openProjectLock } from './project-lock';
import { checkWorkspaceImports } from './undeclared-imports';
import { checkWorkspaceDependencies } from './workspace-checks';
import { pathToFileURL } from 'node:url';

export interface BuildProjectOptions {
  /** Directory holding the project's `pyproject.toml`. */
  projectDir: string;
  /** Where PEX files go: `<outputDir>/<script>.pex`. */
  outputDir: string;
  /** Exact output path; only with a single script. Stale PEX files in `outputDir` are then left alone. */
  outputFile?: string;
  /** The lock search stops here (the Nx workspace root); without it, at the filesystem root. */
  workspaceRoot?: string;
  /** Console scripts to build; default `[tool.nx-pex] scripts` or every `[project.scripts]` entry. */
  scripts?: string[];
  /**
   * Lock file: a uv.lock or a PEP 751 `pylock.toml`; default the project's own `pylock.toml`
   * when it has one, else the nearest `uv.lock` at or above the project.
   */
  lockFile?: string;
  /**
   * true: build from the project's `pylock.toml` (it must exist and match the uv.lock it was
   * generated from); false: from the uv.lock, ignoring any pylock.toml; default: the pylock.toml
   * when there is one.
   */
  lockPerProject?: boolean;
  /** Interpreter whose version and platform the PEX targets; default `python3`. */
  python?: string;
  /** Wheel store directory; default `defaultStoreRoot()`. */
  storeDir?: string;
  /** A local copy of the pinned pex wheel (the one the nx-pex package ships): the pinned runtime comes from it, not an index. */
  pexWheel?: string;
  /**
   * PEX options from the target or the command line; they win over `[tool.nx-pex]`. `sources`
   * must be absolute. `scripts` above belongs to the same layer.
   */
  pex?: LayeredOptions;
  /** pex's index flags (`--index-url`, `--find-links`, `--no-pypi`) over pip's configuration. */
  indexes?: IndexOverrides;
  /** One line per event; default silent. */
  log?: (line: string) => void;
  /** Take wheels from the store only (also `NX_PEX_OFFLINE=1`); fail naming every missing one. */
  offline?: boolean;
  /** Download progress; default one line per downloaded file through `log`. */
  progress?: ProgressReporter;
  env?: NodeJS.ProcessEnv;
}

export interface BuiltPex {
  /** The console script, or the project's name for a PEX with an explicit entry point. */
  script: string;
  path: string;
  bytes: number;
  pexHash: string;
}

export interface BuildProjectResult {
  project: string;
  target: string;
  lockFile: string;
  wheels: number;
  outputs: BuiltPex[];
}

/**
 * The third-party requirements that first-party projects declare, for locks that do not carry
 * `requires-dist` metadata.
 */
function declaredRequirements(projects: PyProject[], firstPartyNames: string[]): string[] {
  const own = new Set(firstPartyNames);
  const out = new Set<string>();
  for (const p of projects) {
    for (const req of p.dependencies) if (!own.has(canonicalizeName(req.name))) out.add(formatRequirement(req));
  }
  return [...out].sort();
}

/** A dependency declared in a pyproject.toml but absent from the lock's closure means the lock is stale. */
function checkLockIsCurrent(
  projects: PyProject[],
  firstPartyNames: string[],
  locked: Set<string>,
  target: TargetPlatform,
  lockFile: string,
): void {
  const own = new Set(firstPartyNames);
  for (const p of projects) {
    for (const req of p.dependencies) {
      const name = canonicalizeName(req.name);
      if (own.has(name) || locked.has(name)) continue;
      if (req.marker && !evaluateMarker(req.marker, target.markerEnvironment)) continue;
      throw new UserError(
        `${p.file} depends on ${req.name}, but ${lockFile} has no ${req.name} for ${p.name} on ${target.id}. ` +
          `The lock is out of date: run \`uv lock\`.`,
      );
    }
  }
}

interface PexJob {
  /** Output name without `.pex`. */
  name: string;
  entryPoint?: string;
  script?: string;
}

/**
 * The PEX files a project builds: one for an explicit entry point (named after the project), one
 * for a single script (a console script of the project becomes its entry point; any other name
 * is looked up among the distributions, as pex's -c does), else one per console script.
 */
function pexJobs(project: PyProject, o: LayeredOptions): PexJob[] {
  if (o.entryPoint !== undefined) {
    checkOutputName(project.name!, `${project.file} [project] name`);
    return [{ name: project.name!, entryPoint: o.entryPoint }];
  }
  if (o.script !== undefined) {
    const spec = project.scripts[o.script];
    checkOutputName(o.script, spec !== undefined ? `${project.file} [project.scripts]` : 'the script option (-c)');
    return [spec !== undefined ? { name: o.script, entryPoint: entryPointOf(spec) } : { name: o.script, script: o.script }];
  }
  const scripts = o.scripts ?? buildableScripts(project);
  for (const script of scripts) {
    if (!(script in project.scripts)) {
      throw new UserError(`${project.file}: there is no console script "${script}" in [project.scripts].`);
    }
    checkOutputName(script, `${project.file} [project.scripts]`);
  }
  return scripts.map((s) => ({ name: s, entryPoint: entryPointOf(project.scripts[s]!) }));
}

/** A wheel a PEP 751 lock gives by path (relative to the lock) is fetched from a file: URL. */
function withFileUrl(wheel: LockedArtifact, lockFile: string): LockedArtifact {
  if (wheel.url !== undefined || wheel.path === undefined) return wheel;
  return { ...wheel, url: pathToFileURL(resolve(dirname(lockFile), wheel.path)).href };
}

/** Builds one PEX per console script of the project at `projectDir`, from its lock. */
export async function buildProject(options: BuildProjectOptions): Promise<BuildProjectResult> {
  const log = options.log ?? (() => undefined);
  checkUtf8Path(options.outputDir, 'The output directory');
  if (options.outputFile !== undefined) checkUtf8Path(options.outputFile, 'The output path');
  const projectDir = resolve(options.projectDir);
  const project = await readPyproject(join(projectDir, 'pyproject.toml'));
  if (!project.name) {
    throw new UserError(`${project.file} has no [project] table, so there is nothing to build.`);
  }
  const given: LayeredOptions = { ...options.pex, ...(options.scripts ? { scripts: options.scripts } : {}) };
  checkOptions(given, 'nx-pex options');
  const fromTool = toolOptions(project);
  checkOptions(fromTool, `${project.file} [tool.nx-pex]`);
  const pexOptions = mergeOptions(given, fromTool);
  checkOptions(pexOptions, `${project.name}'s options (target or command line over [tool.nx-pex])`);
  const jobs = pexJobs(project, pexOptions);
  const layers = { layers: pexOptions.layers === true, docker: pexOptions.docker === true };
  checkLayerOptions(project.name, pexOptions, jobs);
  if (jobs.length === 0) {
    throw new UserError(
      `${project.file}: ${project.name} has no [project.scripts]; add a console script (name = "module:function") to build a PEX, or give an entry point (-e).`,
    );
  }
  if (options.outputFile && jobs.length !== 1) {
    throw new UserError(`An output file names one PEX, but ${project.name} builds ${jobs.length}: pick a script (-c).`);
  }

  const python = options.python ?? 'python3';
  const [target, projectLock] = await Promise.all([
    targetFor(python, { storeDir: options.storeDir, env: options.env }),
    openProjectLock({
      projectDir,
      project: project.name,
      lockFile: options.lockFile,
      workspaceRoot: options.workspaceRoot,
      lockPerProject: options.lockPerProject,
    }),
  ]);
  const lockFile = projectLock.path;
  log(`${project.name}: target ${target.id} (${python}), lock ${lockFile}`);

  // Every other workspace project (from the uv.lock's members), for the checks of how projects
  // depend on each other; one that cannot be read (a broken pyproject.toml) is reported by its own build.
  const workspace: PyProject[] = [];
  const wsRoot = options.workspaceRoot ?? (projectLock.uvLock ? dirname(projectLock.uvLock.path) : projectDir);
  if (projectLock.uvLock) {
    const uvLock = projectLock.uvLock;
    const members = uvLock.packages.filter((p) => uvLock.workspaceMembers.includes(p.name) && 'path' in p.source && p.source.kind !== 'virtual');
    for (const member of members) {
      try {
        workspace.push(...(await lockedProjects([member], uvLock.path)));
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
      }
    }
    checkWorkspaceDependencies(project, workspace, wsRoot);
  }
  const closure = projectLock.closure(target);
  const selected = selectWheels(closure, target, lockFile).map(({ pkg, wheel }) => ({
    pkg,
    wheel: projectLock.kind === 'pylock' ? withFileUrl(wheel, lockFile) : wheel,
  }));

  const firstParty: PyProject[] = [
    project,
    ...(await lockedProjects(closure.firstParty.filter((p) => p.name !== project.canonicalName), lockFile)),
  ];
  const requirements = closure.root.requiresDist
    ? rootRequirements(closure)
    : declaredRequirements(firstParty, closure.firstParty.map((p) => p.name));
  checkLockIsCurrent(firstParty, closure.firstParty.map((p) => p.name), new Set(closure.thirdParty.map((p) => p.name)), target, lockFile);
  if (projectLock.uvLock) await checkWorkspaceImports(project, firstParty, workspace, wsRoot);
  const sources = await buildSources(firstParty, pexOptions.sources ?? []);

  const outputDir = resolve(options.outputDir);
  const fetchOptions = {
    target,
    projectRoot: dirname(lockFile),
    indexes: options.indexes,
    storeDir: options.storeDir,
    pexVersion: pexOptions.pexVersion,
    pexWheel: options.pexWheel,
    offline: options.offline,
    progress: options.progress,
    log: options.log,
    env: options.env ?? process.env,
  };
  const { outputs, wheels } = await withFetchedInputs(
    fetchOptions,
    async () => selected.map(lockedArtifactRequest),
    async ({ runtime, dependencies, shebang, store, storeRoot }) => {
      if (!options.outputFile) await mkdir(outputDir, { recursive: true });
      const outputs: BuiltPex[] = [];
      for (const job of jobs) {
        const script = job.name;
        const path = options.outputFile ? resolve(options.outputFile) : join(outputDir, `${script}.pex`);
        // The names were checked; this is the last word before anything is written.
        if (!options.outputFile) assertInside(outputDir, path, `the PEX of ${script}`);
        await mkdir(dirname(path), { recursive: true });
        const result = await writePex(path, {
          tmpDir: await outputTmpDir(storeRoot, dirname(path)),
          ...writerOptions(pexOptions),
          runtime,
          dependencies,
          sources,
          requirements,
          entryPoint: job.entryPoint,
          script: job.script,
          shebang: pexOptions.shebang ?? shebang,
        });
        outputs.push({ script, path, bytes: result.bytes, pexHash: result.pexHash });
        log(`${project.name}: wrote ${relative(process.cwd(), path) || path} (${(result.bytes / 1e6).toFixed(1)} MB, ${dependencies.length} wheels)`);
      }
      if (layers.layers || layers.docker) {
        await writeProjectLayers({
          project: project.name!,
          outputDir: options.outputFile ? dirname(resolve(options.outputFile)) : outputDir,
          ...layers,
          dockerBaseImage: pexOptions.dockerBaseImage,
          pex: { ...writerOptions(pexOptions), runtime, dependencies, sources, requirements, shebang: pexOptions.shebang ?? shebang },
          closureRequirements: [...new Set(selected.map(({ pkg }) => (pkg.version ? `${pkg.name}==${pkg.version}` : pkg.name)))],
          jobs,
          target,
          store,
          log,
        });
      }
      return { outputs, wheels: dependencies.length };
    },
  );
  if (!options.outputFile) {
    // A script removed from pyproject.toml must not leave its old PEX behind.
    const wanted = new Set(outputs.map((o) => `${o.script}.pex`));
    for (const name of await readdir(outputDir)) {
      if (!name.endsWith('.pex') || wanted.has(name)) continue;
      const stale = join(outputDir, name);
      assertInside(outputDir, stale, 'an earlier PEX');
      // Only an earlier PEX goes; anything else named *.pex is not ours to delete.
      if (await isReplaceableOutput(stale)) await rm(stale, { force: true, recursive: true });
    }
    await removeStaleLayers(outputDir, layers);
  }
  return { project: project.name, target: target.id, lockFile, wheels, outputs };
}
