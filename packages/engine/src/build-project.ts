import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { canonicalizeName, evaluateMarker, formatRequirement, parseRequirement, UserError, type TargetPlatform } from '@nx-pex/pep';
import { buildableScripts, findLockFile, readPyproject, type PyProject } from '@nx-pex/project';
import {
  isHashedLock,
  poetryGroupRequirements,
  readRequirementsFileLock,
  requirementsClosure,
  rootRequirements,
  type RequirementsFile,
} from '@nx-pex/lock';
import { offlineFromEnv, type ArtifactRequest, type ProgressReporter } from '@nx-pex/store';
import { assertInside, isReplaceableOutput, writePex } from '@nx-pex/pex';
import { checkOptions, mergeOptions, toolOptions, writerOptions, type LayeredOptions } from './options';
import { buildSources, describeTargets, entryPointOf, lockedProjects, targetsFor, withFetchedInputs, type IndexContext } from './pipeline';
import { checkLayerOptions, linkWheelsToStore, removeStaleLayers, writeProjectLayers } from './layers';
import { lockKind, readPackageLock, withFileUrl } from './locks';
import { resolveHashed } from './hashed';
import { artifactRequest } from './pinned';
import { lockedArtifactRequests, selectLockedFiles, type LockedSelection } from './locked-sdists';
import type { IndexOverrides } from './index-overrides';
import { checkOutputName, checkUtf8Path, outputTmpDir } from './outputs';
import { openProjectLock } from './project-lock';
import { checkWorkspaceImports } from './undeclared-imports';
import { checkWorkspaceDependencies } from './workspace-checks';

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
  /** Interpreter whose version and platform the PEX targets, when no platform is given; default `python3`. */
  python?: string;
  /** Wheel store directory; default `defaultStoreRoot()`. */
  storeDir?: string;
  /** A local copy of the pinned pex wheel, whose runtime is taken without any index; default: the one the nx-pex package carries, when these sources run from it. */
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
  /** Do not read or keep index pages and metadata in the store (pex's `--disable-cache`; also NX_PEX_DISABLE_CACHE=1). */
  disableCache?: boolean;
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
  /** The target's id; with several platforms, their ids joined by ", ". */
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
          `The lock is out of date: ${/poetry\.lock$/.test(lockFile) ? 'run `poetry lock`' : /\.(txt|in)$/.test(lockFile) ? 'regenerate it (pip-compile, uv export, poetry export)' : 'run `uv lock`'}.`,
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

  const explicitLock = options.lockFile
    ? resolve(options.lockFile)
    : project.nxPex.lockFile
      ? resolve(project.dir, project.nxPex.lockFile)
      : undefined;
  const found = explicitLock ?? (await findLockFile(projectDir, options.workspaceRoot));
  if (!found) {
    throw new UserError(
      `No lock found for ${project.name}: no pylock.toml, poetry.lock or uv.lock in ${projectDir}, and no uv.lock in its parents. ` +
        `Write one with \`nx-pex lock --project ${projectDir}\` (in an Nx workspace: \`nx run ${project.name}:lock\`), \`uv lock\` or \`poetry lock\`, or name its lock with [tool.nx-pex] lock-file.`,
    );
  }
  const [targets, kind] = await Promise.all([
    targetsFor({ python: options.python, platforms: pexOptions.platforms, completePlatforms: pexOptions.completePlatforms, storeDir: options.storeDir, env: options.env }),
    lockKind(found),
  ]);
  const target = targets[0]!;
  let lockFile = found;

  // One closure per target; the PEX holds the wheels of all of them, and the pex runtime picks
  // the ones that fit the interpreter it boots on.
  const firstPartyByName = new Map<string, PyProject>([[project.canonicalName!, project]]);
  const requirementSet = new Set<string>();
  // `name==version` of every third-party package in the closures: what the deps layer pins.
  const pins = new Set<string>();
  let collect: (ctx: IndexContext) => Promise<ArtifactRequest[]>;
  let requirementsFiles: RequirementsFile[] = [];
  /** Fetches each target's selection from a package lock (building the sdists it names), and notes its pins. */
  const lockedCollect = (selections: Array<{ target: TargetPlatform; selection: LockedSelection }>, into: Set<string>) => {
    for (const { selection } of selections) {
      for (const pkg of [...selection.wheels.map((w) => w.pkg), ...selection.sdists]) into.add(pkg.version ? `${pkg.name}==${pkg.version}` : pkg.name);
    }
    return async (ctx: IndexContext): Promise<ArtifactRequest[]> => {
      const out: ArtifactRequest[] = [];
      for (const { target: t, selection } of selections) {
        const o = { python: options.python ?? 'python3', target: t, lockFile, env: options.env ?? process.env, offline: options.offline, log: options.log };
        out.push(...(await lockedArtifactRequests(selection, ctx, o)));
      }
      return out;
    };
  };
  if (kind === 'requirements') {
    // A hashed requirements file as the project's lock: its pins are the third-party closure.
    log(`${project.name}: ${describeTargets(targets, options.python)}, lock ${lockFile}`);
    const rf = await readRequirementsFileLock(lockFile, options.env ?? process.env);
    if (!isHashedLock(rf)) {
      throw new UserError(
        `${lockFile}, the lock of ${project.name}, has no --hash options: a requirements file is a lock only when every requirement is pinned and hashed ` +
          '(pip-compile --generate-hashes, uv export, poetry export write them).',
      );
    }
    requirementsFiles = [rf];
    const locked = new Set(rf.requirements.map((l) => canonicalizeName(l.requirement.name)));
    for (const t of targets) checkLockIsCurrent([project], [project.canonicalName!], locked, t, lockFile);
    for (const r of declaredRequirements([project], [project.canonicalName!])) requirementSet.add(r);
    collect = async ({ client, config, store }) => {
      if (options.offline ?? offlineFromEnv(options.env ?? process.env)) {
        throw new UserError(
          `${lockFile} names its files by sha256 only, so they are looked up on the indexes, which an offline build cannot do: build online, or lock ${project.name} with a lock that names its files (uv.lock, poetry.lock).`,
        );
      }
      const out: ArtifactRequest[] = [];
      for (const t of targets) {
        const { wheels } = await resolveHashed(rf.requirements, { client, config, store, target: t, log: options.log });
        for (const w of wheels) pins.add(`${w.name}==${w.version}`);
        out.push(...wheels.map(artifactRequest));
      }
      return out;
    };
  } else if (kind === 'poetry') {
    log(`${project.name}: ${describeTargets(targets, options.python)}, lock ${lockFile}`);
    const lock = await readPackageLock(lockFile, kind);
    // A poetry.lock has no entry for the project: the requirements of its main group select from the lock.
    const poetryMain = poetryGroupRequirements(project.raw, ['main']).map((r) => parseRequirement(r));
    const selections: Array<{ target: TargetPlatform; selection: LockedSelection }> = [];
    for (const t of targets) {
      const closure = requirementsClosure(lock, poetryMain, t);
      selections.push({ target: t, selection: selectLockedFiles(closure, t, lockFile) });
      const others = closure.firstParty.filter((p) => p.name !== project.canonicalName && !firstPartyByName.has(p.name));
      for (const p of await lockedProjects(others, lockFile)) firstPartyByName.set(p.canonicalName!, p);
      const ownNames = [project.canonicalName!, ...closure.firstParty.map((p) => p.name)];
      const firstPartyOfTarget = ownNames.map((n) => firstPartyByName.get(n)).filter((p): p is PyProject => p !== undefined);
      const reqs = closure.root.requiresDist ? rootRequirements(closure) : declaredRequirements(firstPartyOfTarget, ownNames);
      for (const r of reqs) requirementSet.add(r);
      checkLockIsCurrent(firstPartyOfTarget, ownNames, new Set(closure.thirdParty.map((p) => p.name)), t, lockFile);
    }
    collect = lockedCollect(selections, pins);
  } else {
    // A uv.lock, or a PEP 751 pylock.toml: the project's own (kept by `nx sync`, or the user's)
    // or the workspace's uv.lock.
    const projectLock = await openProjectLock({
      projectDir,
      project: project.name,
      lockFile: explicitLock,
      workspaceRoot: options.workspaceRoot,
      lockPerProject: options.lockPerProject,
    });
    lockFile = projectLock.path;
    log(`${project.name}: ${describeTargets(targets, options.python)}, lock ${lockFile}`);

    // Every other workspace project (from the uv.lock's members), for the checks of how projects
    // depend on each other; one that cannot be read (a broken pyproject.toml) is reported by its own build.
    const workspace: PyProject[] = [];
    const wsRoot = options.workspaceRoot ?? (projectLock.uvLock ? dirname(projectLock.uvLock.path) : projectDir);
    if (projectLock.uvLock) {
      const uvLock = projectLock.uvLock;
      const members = uvLock.packages.filter((p) => uvLock.workspaceMembers.includes(p.name) && 'path' in p.source && p.source.kind !== 'virtual');
      const read = await Promise.all(
        members.map((member) =>
          lockedProjects([member], uvLock.path).catch((e: unknown) => {
            if (e instanceof UserError) return [];
            throw e;
          }),
        ),
      );
      workspace.push(...read.flat());
      checkWorkspaceDependencies(project, workspace, wsRoot);
    }
    // Per target: the best wheel of each package, or its locked sdist to build when no wheel fits.
    const selections: Array<{ target: TargetPlatform; selection: LockedSelection }> = [];
    for (const t of targets) {
      const closure = projectLock.closure(t);
      const selection = selectLockedFiles(closure, t, lockFile);
      if (projectLock.kind === 'pylock') selection.wheels = selection.wheels.map(({ pkg, wheel }) => ({ pkg, wheel: withFileUrl(wheel, lockFile) }));
      selections.push({ target: t, selection });
      const others = closure.firstParty.filter((p) => p.name !== project.canonicalName && !firstPartyByName.has(p.name));
      for (const p of await lockedProjects(others, lockFile)) firstPartyByName.set(p.canonicalName!, p);
      // The project itself, even where its own lock has no entry for it (a user's pylock.toml).
      const ownNames = [...new Set([project.canonicalName!, ...closure.firstParty.map((p) => p.name)])];
      const firstPartyOfTarget = ownNames.map((n) => firstPartyByName.get(n)).filter((p): p is PyProject => p !== undefined);
      const reqs = closure.root.requiresDist ? rootRequirements(closure) : declaredRequirements(firstPartyOfTarget, ownNames);
      for (const r of reqs) requirementSet.add(r);
      checkLockIsCurrent(firstPartyOfTarget, ownNames, new Set(closure.thirdParty.map((p) => p.name)), t, lockFile);
    }
    if (projectLock.uvLock) await checkWorkspaceImports(project, [...firstPartyByName.values()], workspace, wsRoot);
    collect = lockedCollect(selections, pins);
  }
  const firstParty = [...firstPartyByName.values()];
  const requirements = [...requirementSet].sort();
  const sources = await buildSources(firstParty, pexOptions.sources ?? []);

  const outputDir = resolve(options.outputDir);
  const fetchOptions = {
    target,
    targets,
    projectRoot: dirname(lockFile),
    indexes: options.indexes,
    requirementsFiles,
    storeDir: options.storeDir,
    pexVersion: pexOptions.pexVersion,
    pexWheel: options.pexWheel,
    offline: options.offline,
    disableCache: options.disableCache,
    progress: options.progress,
    log: options.log,
    env: options.env ?? process.env,
  };
  const { outputs, wheels } = await withFetchedInputs(
    fetchOptions,
    collect,
    async ({ runtime, dependencies, shebang, store, storeRoot }) => {
      if (!options.outputFile) await mkdir(outputDir, { recursive: true });
      const outputs: BuiltPex[] = [];
      for (const job of pexOptions.fullPex === false ? [] : jobs) {
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
        await linkWheelsToStore(path, { ...writerOptions(pexOptions), dependencies });
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
          closureRequirements: [...pins].sort(),
          jobs,
          // The deps layer's key names every target the closure was selected for.
          target: targets.length > 1 ? { ...target, id: targets.map((t) => t.id).join('+') } : target,
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
  return { project: project.name, target: targets.map((t) => t.id).join(', '), lockFile, wheels, outputs };
}
