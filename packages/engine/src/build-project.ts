import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { canonicalizeName, evaluateMarker, formatRequirement, UserError, type TargetPlatform } from '@nx-pex/pep';
import { buildableScripts, findLockFile, readPyproject, type PyProject } from '@nx-pex/project';
import { readUvLock, lockClosure, rootRequirements } from '@nx-pex/lock';
import { lockedArtifactRequests, selectLockedFiles } from './locked-sdists';
import type { ProgressReporter } from '@nx-pex/store';
import { writePex } from '@nx-pex/pex';
import { checkOptions, mergeOptions, toolOptions, writerOptions, type LayeredOptions } from './options';
import { buildSources, entryPointOf, lockedProjects, targetFor, withFetchedInputs } from './pipeline';
import type { IndexOverrides } from './runtime';

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
  /** Lock file; default the nearest `uv.lock` at or above the project. */
  lockFile?: string;
  /** Interpreter whose version and platform the PEX targets; default `python3`. */
  python?: string;
  /** Wheel store directory; default `defaultStoreRoot()`. */
  storeDir?: string;
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
  if (o.entryPoint !== undefined) return [{ name: project.name!, entryPoint: o.entryPoint }];
  if (o.script !== undefined) {
    const spec = project.scripts[o.script];
    return [spec !== undefined ? { name: o.script, entryPoint: entryPointOf(spec) } : { name: o.script, script: o.script }];
  }
  const scripts = o.scripts ?? buildableScripts(project);
  for (const script of scripts) {
    if (!(script in project.scripts)) {
      throw new UserError(`${project.file}: there is no console script "${script}" in [project.scripts].`);
    }
  }
  return scripts.map((s) => ({ name: s, entryPoint: entryPointOf(project.scripts[s]!) }));
}

/** Builds one PEX per console script of the project at `projectDir`, from its lock. */
export async function buildProject(options: BuildProjectOptions): Promise<BuildProjectResult> {
  const log = options.log ?? (() => undefined);
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
  if (jobs.length === 0) {
    throw new UserError(
      `${project.file}: ${project.name} has no [project.scripts]; add a console script (name = "module:function") to build a PEX, or give an entry point (-e).`,
    );
  }
  if (options.outputFile && jobs.length !== 1) {
    throw new UserError(`An output file names one PEX, but ${project.name} builds ${jobs.length}: pick a script (-c).`);
  }

  const lockFile = options.lockFile ? resolve(options.lockFile) : await findLockFile(projectDir, options.workspaceRoot);
  if (!lockFile) {
    throw new UserError(
      `No uv.lock found for ${project.name} in ${projectDir} or its parents. Run \`uv lock\` in the uv workspace that holds it.`,
    );
  }
  const python = options.python ?? 'python3';
  const [target, lock] = await Promise.all([targetFor(python, { storeDir: options.storeDir, env: options.env }), readUvLock(lockFile)]);
  log(`${project.name}: target ${target.id} (${python}), lock ${lockFile}`);

  const closure = lockClosure(lock, project.name, target);
  const selected = selectLockedFiles(closure, target, lockFile);

  const firstParty: PyProject[] = [
    project,
    ...(await lockedProjects(closure.firstParty.filter((p) => p.name !== project.canonicalName), lockFile)),
  ];
  const requirements = closure.root.requiresDist
    ? rootRequirements(closure)
    : declaredRequirements(firstParty, closure.firstParty.map((p) => p.name));
  checkLockIsCurrent(firstParty, closure.firstParty.map((p) => p.name), new Set(closure.thirdParty.map((p) => p.name)), target, lockFile);
  const sources = await buildSources(firstParty, pexOptions.sources ?? []);

  const outputDir = resolve(options.outputDir);
  const fetchOptions = {
    target,
    projectRoot: dirname(lockFile),
    indexes: options.indexes,
    storeDir: options.storeDir,
    pexVersion: pexOptions.pexVersion,
    offline: options.offline,
    progress: options.progress,
    log: options.log,
    env: options.env ?? process.env,
  };
  const { outputs, wheels } = await withFetchedInputs(
    fetchOptions,
    (ctx) => lockedArtifactRequests(selected, ctx, { python, target, lockFile, env: options.env ?? process.env, offline: options.offline, log: options.log }),
    async ({ runtime, dependencies, shebang }) => {
      if (!options.outputFile) await mkdir(outputDir, { recursive: true });
      const outputs: BuiltPex[] = [];
      for (const job of jobs) {
        const script = job.name;
        const path = options.outputFile ? resolve(options.outputFile) : join(outputDir, `${script}.pex`);
        await mkdir(dirname(path), { recursive: true });
        const result = await writePex(path, {
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
      return { outputs, wheels: dependencies.length };
    },
  );
  if (!options.outputFile) {
    // A script removed from pyproject.toml must not leave its old PEX behind.
    const wanted = new Set(outputs.map((o) => `${o.script}.pex`));
    for (const name of await readdir(outputDir)) {
      if (name.endsWith('.pex') && !wanted.has(name)) await rm(join(outputDir, name), { force: true, recursive: true });
    }
  }
  return { project: project.name, target: target.id, lockFile, wheels, outputs };
}
