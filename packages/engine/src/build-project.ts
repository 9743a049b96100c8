import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UserError, type TargetPlatform } from '@nx-pex/pep';
import { buildableScripts, findLockFile, readPyproject, type PyProject, type SourceFile } from '@nx-pex/project';
import { assertInside, isReplaceableOutput, writePex } from '@nx-pex/pex';
import { checkOptions, mergeOptions, toolOptions, writerOptions, type LayeredOptions } from './options';
import { describeTargets, entryPointOf, fetchOptionsFor, targetsFor, withFetchedInputs, withSources, type FetchedInputs } from './pipeline';
import { checkLayerOptions, linkWheelsToStore, removeStaleLayers, writeProjectLayers } from './layers';
import { createContext, type BuildContext } from './context';
import { selectForTargets, type Selection } from './selection';
import { lockKindOf } from './sources';
import { checkOutputName, checkUtf8Path, outputTmpDir, shownPath } from './outputs';
import { writeProjectImage } from './image';

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
   * Lock file: a uv.lock, a PEP 751 `pylock.toml`, a poetry.lock or a hashed requirements file;
   * default the project's own `pylock.toml` when it has one, else its poetry.lock, else the
   * nearest `uv.lock` at or above the project.
   */
  lockFile?: string;
  /**
   * true: build from the project's `pylock.toml` (it must exist and match the uv.lock it was
   * generated from); false: from the uv.lock, ignoring any pylock.toml; default: the pylock.toml
   * when there is one.
   */
  lockPerProject?: boolean;
  /** Interpreter whose version and platform the PEX targets, when no platform is given; default `python3`. */
  python?: string;
  /**
   * PEX options from the target or the command line; they win over `[tool.nx-pex]`. `sources`
   * must be absolute. `scripts` above belongs to the same layer.
   */
  pex?: LayeredOptions;
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
  /** The target's id; with several platforms, their ids joined by ", ". */
  target: string;
  lockFile: string;
  wheels: number;
  outputs: BuiltPex[];
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

/** A project, its options (target or command line over `[tool.nx-pex]`) and the PEX files it builds. */
interface ProjectPlan {
  project: PyProject;
  pexOptions: LayeredOptions;
  jobs: PexJob[];
  layers: { layers: boolean; docker: boolean };
}

async function planProject(options: BuildProjectOptions): Promise<ProjectPlan> {
  checkUtf8Path(options.outputDir, 'The output directory');
  if (options.outputFile !== undefined) checkUtf8Path(options.outputFile, 'The output path');
  const project = await readPyproject(join(resolve(options.projectDir), 'pyproject.toml'));
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
  checkLayerOptions(project.name, pexOptions, jobs);
  if (jobs.length === 0) {
    throw new UserError(
      `${project.file}: ${project.name} has no [project.scripts]; add a console script (name = "module:function") to build a PEX, or give an entry point (-e).`,
    );
  }
  if (options.outputFile && jobs.length !== 1) {
    throw new UserError(`An output file names one PEX, but ${project.name} builds ${jobs.length}: pick a script (-c).`);
  }
  return { project, pexOptions, jobs, layers: { layers: pexOptions.layers === true, docker: pexOptions.docker === true } };
}

/** The project's lock: named by the option or `[tool.nx-pex] lock-file`, else found at or above it. */
async function projectLockFile(project: PyProject, options: BuildProjectOptions): Promise<{ lockFile: string; explicit: boolean }> {
  const named = options.lockFile ? resolve(options.lockFile) : project.nxPex.lockFile ? resolve(project.dir, project.nxPex.lockFile) : undefined;
  if (named) return { lockFile: named, explicit: true };
  const found = await findLockFile(project.dir, options.workspaceRoot);
  if (!found) {
    throw new UserError(
      `No lock found for ${project.name}: no pylock.toml, poetry.lock or uv.lock in ${project.dir}, and no uv.lock in its parents. ` +
        `Write one with \`nx-pex lock --project ${project.dir}\` (in an Nx workspace: \`nx run ${project.name}:lock\`), \`uv lock\` or \`poetry lock\`, or name its lock with [tool.nx-pex] lock-file.`,
    );
  }
  return { lockFile: found, explicit: false };
}

/** Builds one PEX per console script of the project at `projectDir`, from its lock. */
export async function buildProject(options: BuildProjectOptions, ctx: BuildContext = createContext()): Promise<BuildProjectResult> {
  const plan = await planProject(options);
  const { project, pexOptions } = plan;
  const { lockFile, explicit } = await projectLockFile(project, options);
  const [targets, kind] = await Promise.all([
    targetsFor({ python: options.python, platforms: pexOptions.platforms, completePlatforms: pexOptions.completePlatforms }, ctx),
    lockKindOf(lockFile),
  ]);
  const source = await kind.openProject({
    project,
    lockFile,
    explicit,
    workspaceRoot: options.workspaceRoot,
    lockPerProject: options.lockPerProject,
    targets,
    announce: (d) => ctx.log(`${project.name}: ${describeTargets(targets, options.python)}, ${d}`),
    ctx,
  });
  const { outputs, wheels } = await withFetchedInputs(
    fetchOptionsFor(source, targets, pexOptions.pexVersion),
    ctx,
    async (index) =>
      withSources(
        await selectForTargets(source, targets, index, ctx, options.python),
        pexOptions.sources,
        { form: pexOptions.firstParty, python: options.python, target: targets[0]!, projectRoot: source.projectRoot },
        index,
        ctx,
      ),
    (inputs, selection) => writeProjectPexes(plan, options, targets, inputs, selection, source.lockFile ?? lockFile, ctx),
  );
  if (!options.outputFile) await removeStaleOutputs(resolve(options.outputDir), outputs, plan.layers);
  return { project: project.name!, target: targets.map((t) => t.id).join(', '), lockFile: source.lockFile ?? lockFile, wheels, outputs };
}

/** Writes the plan's PEX files (and its layers) from the fetched inputs. */
async function writeProjectPexes(
  plan: ProjectPlan,
  options: BuildProjectOptions,
  targets: readonly TargetPlatform[],
  { runtime, dependencies, shebang, store, storeRoot }: FetchedInputs,
  selection: Selection & { sources: SourceFile[] },
  lockFile: string,
  ctx: BuildContext,
): Promise<{ outputs: BuiltPex[]; wheels: number }> {
  const { project, pexOptions, jobs, layers } = plan;
  const outputDir = resolve(options.outputDir);
  if (!options.outputFile) await mkdir(outputDir, { recursive: true });
  const pex = { ...writerOptions(pexOptions), runtime, dependencies, sources: selection.sources, requirements: selection.requirements, shebang: pexOptions.shebang ?? shebang };
  const outputs: BuiltPex[] = [];
  // Layers only (`fullPex: false`): no full PEX is written, the layers hold everything.
  for (const job of pexOptions.fullPex === false ? [] : jobs) {
    const path = options.outputFile ? resolve(options.outputFile) : join(outputDir, `${job.name}.pex`);
    // The names were checked; this is the last word before anything is written.
    if (!options.outputFile) assertInside(outputDir, path, `the PEX of ${job.name}`);
    await mkdir(dirname(path), { recursive: true });
    const result = await writePex(path, { tmpDir: await outputTmpDir(storeRoot, dirname(path)), ...pex, entryPoint: job.entryPoint, script: job.script });
    await linkWheelsToStore(path, { ...writerOptions(pexOptions), dependencies });
    outputs.push({ script: job.name, path, bytes: result.bytes, pexHash: result.pexHash });
    ctx.log(`${project.name}: wrote ${shownPath(path)} (${(result.bytes / 1e6).toFixed(1)} MB, ${dependencies.length} wheels)`);
  }
  if (layers.layers || layers.docker) {
    const target = targets[0]!;
    await writeProjectLayers({
      project: project.name!,
      outputDir: options.outputFile ? dirname(resolve(options.outputFile)) : outputDir,
      ...layers,
      dockerBaseImage: pexOptions.dockerBaseImage,
      pex,
      closureRequirements: selection.pins,
      jobs,
      // The deps layer's key names every target the closure was selected for.
      target: targets.length > 1 ? { ...target, id: targets.map((t) => t.id).join('+') } : target,
      store,
      log: ctx.log,
    });
  }
  await writeProjectImage({
    project: project.name!,
    projectDir: project.dir,
    outputDir: options.outputFile ? dirname(resolve(options.outputFile)) : outputDir,
    options: pexOptions,
    jobs,
    targets,
    dependencies,
    sources: selection.sources,
    lockFile,
    store,
    env: ctx.env,
    offline: ctx.offline,
    log: ctx.log,
  });
  return { outputs, wheels: dependencies.length };
}

/** A script removed from pyproject.toml must not leave its old PEX (or layers) behind. */
async function removeStaleOutputs(outputDir: string, outputs: readonly BuiltPex[], layers: { layers: boolean; docker: boolean }): Promise<void> {
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
