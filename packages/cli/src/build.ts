import { dirname, resolve } from 'node:path';
import { streamProgress } from '@nx-pex/store';
import { buildProject, buildRequirements, completePlatformPath, createContext, type IndexOverrides, type InheritPath, type LayeredOptions, type Layout } from '@nx-pex/engine';
import { buildHelp, parseBuildArgs, type BuildArgs } from './build-args';
import { UsageError } from './errors';

/** The PEX options of the command line. */
export function cliPexOptions(a: BuildArgs, cwd = process.cwd()): LayeredOptions {
  const o: LayeredOptions = {};
  if (a.layout !== undefined) o.layout = a.layout as Layout;
  if (a.preInstallWheels !== undefined) o.preInstallWheels = a.preInstallWheels;
  if (a.entryPoint !== undefined) o.entryPoint = a.entryPoint;
  if (a.injectArgs) o.injectArgs = a.injectArgs;
  if (a.injectEnv) o.injectEnv = a.injectEnv;
  if (a.injectPythonArgs) o.injectPythonArgs = a.injectPythonArgs;
  if (a.inheritPath !== undefined) o.inheritPath = a.inheritPath as InheritPath;
  if (a.stripPexEnv !== undefined) o.stripPexEnv = a.stripPexEnv;
  if (a.emitWarnings !== undefined) o.emitWarnings = a.emitWarnings;
  if (a.ignoreErrors) o.ignoreErrors = true;
  if (a.maxInstallJobs !== undefined) {
    if (!/^-?\d+$/.test(a.maxInstallJobs)) throw new UsageError(`--max-install-jobs takes an integer; given "${a.maxInstallJobs}".`);
    o.maxInstallJobs = Number(a.maxInstallJobs);
  }
  if (a.shebang !== undefined) o.shebang = a.shebang;
  if (a.interpreterConstraints) o.interpreterConstraints = a.interpreterConstraints;
  if (a.includeTools) o.includeTools = true;
  if (a.venv !== undefined) {
    o.venv = true;
    o.venvBinPath = a.venv as 'false' | 'prepend' | 'append';
  }
  if (a.venvCopies !== undefined) o.venvCopies = a.venvCopies;
  if (a.venvSitePackagesCopies !== undefined) o.venvSitePackagesCopies = a.venvSitePackagesCopies;
  if (a.venvSystemSitePackages !== undefined) o.venvSystemSitePackages = a.venvSystemSitePackages;
  if (a.nonHermeticVenvScripts) o.venvHermeticScripts = false;
  if (a.compress !== undefined) o.compress = a.compress;
  if (a.validateEntryPoint) o.validateEntryPoint = true;
  if (a.pexPath) o.pexPath = a.pexPath;
  if (a.runtimePexRoot !== undefined) o.runtimePexRoot = a.runtimePexRoot;
  if (a.sources) o.sources = a.sources.map((d) => resolve(cwd, d));
  if (a.pexVersion !== undefined) o.pexVersion = a.pexVersion;
  if (a.firstParty !== undefined) o.firstParty = a.firstParty as 'sources' | 'wheel';
  if (a.layers) o.layers = true;
  if (a.docker) o.docker = true;
  if (a.dockerBaseImage !== undefined) o.dockerBaseImage = a.dockerBaseImage;
  if (a.image) o.image = true;
  // A path (./x, ../x, /x) is the caller's; anything else is an image reference.
  if (a.imageBase !== undefined) o.imageBase = /^\.{0,2}\//.test(a.imageBase) ? resolve(cwd, a.imageBase) : a.imageBase;
  if (a.imageRepository !== undefined) o.imageRepository = a.imageRepository;
  if (a.imageTags !== undefined) o.imageTags = a.imageTags;
  if (a.imagePorts !== undefined) o.imagePorts = a.imagePorts;
  if (a.imageUser !== undefined) o.imageUser = a.imageUser;
  if (a.imageEnv !== undefined) o.imageEnv = a.imageEnv;
  if (a.imageRevision !== undefined) o.imageRevision = a.imageRevision;
  if (a.platforms) o.platforms = a.platforms;
  if (a.completePlatforms) o.completePlatforms = a.completePlatforms.map((c) => completePlatformPath(c, cwd));
  return o;
}

function indexOverrides(a: BuildArgs): IndexOverrides | undefined {
  if (!a.indexUrls && !a.findLinks && a.pypi === undefined) return undefined;
  return { indexUrls: a.indexUrls, findLinks: a.findLinks, noPypi: a.pypi === false };
}

/** `nx-pex build`. */
export async function buildCommand(argv: string[]): Promise<number> {
  const a = parseBuildArgs(argv);
  if (a.help) {
    process.stdout.write(buildHelp());
    return 0;
  }
  const pex = cliPexOptions(a);
  applyBuildTimeout(a.buildTimeout);
  // The settings every step of the build shares, whichever kind of build it is.
  const ctx = createContext({
    storeDir: a.store,
    indexes: indexOverrides(a),
    offline: a.offline || undefined,
    disableCache: a.disableCache || undefined,
    progress: a.quiet ? undefined : streamProgress(process.stderr),
    log: a.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`),
  });
  // What both kinds of build take from the command line.
  const common = { lockFile: a.lock, python: a.python, pex };
  const scripts = a.script ?? [];

  if (a.project !== undefined) {
    if (a.requirements.length || a.requirementFiles) {
      throw new UsageError(
        `--project builds a project from its lock; requirements (${[...a.requirements, ...(a.requirementFiles ?? []).map((f) => `-r ${f}`)].join(' ')}) cannot be added to it. ` +
          'Declare them in the project\'s pyproject.toml, or build without --project.',
      );
    }
    if (scripts.length === 1) pex.script = scripts[0];
    else if (scripts.length > 1) pex.scripts = scripts;
    const outputFile = a.outputFile;
    await buildProject({
      projectDir: resolve(a.project),
      outputDir: resolve(a.outputDir ?? (outputFile ? dirname(outputFile) : 'dist')),
      outputFile: outputFile ? resolve(outputFile) : undefined,
      ...common,
    }, ctx);
    return 0;
  }

  if (a.outputDir !== undefined) throw new UsageError('--output-dir applies to --project builds; give the PEX\'s path with -o.');
  if (!a.outputFile) {
    throw new UsageError('nx-pex build needs -o PATH for the PEX (or --project DIR to build a workspace project). Run `nx-pex build --help`.');
  }
  if (scripts.length > 1) throw new UsageError(`-c names the one script the PEX runs; it is given ${scripts.length} times (${scripts.join(', ')}).`);
  if (scripts.length === 1) pex.script = scripts[0];
  const onlyBinary = [...(a.onlyBinary ?? []), ...(a.build === false ? [':all:'] : [])];
  const noBinary = [...(a.noBinary ?? []), ...(a.wheel === false ? [':all:'] : [])];
  await buildRequirements({
    requirements: [...a.requirements],
    requirementFiles: a.requirementFiles,
    outputFile: a.outputFile,
    ...common,
    ...(a.constraintFiles?.length ? { constraintFiles: a.constraintFiles } : {}),
    ...(a.pre ? { pre: true } : {}),
    ...(onlyBinary.length ? { onlyBinary } : {}),
    ...(noBinary.length ? { noBinary } : {}),
    ...(a.transitive === false ? { noTransitive: true } : {}),
  }, ctx);
  return 0;
}

/**
 * `--build-timeout SECONDS`: the sdist builds of this run take their limit from
 * NX_PEX_BUILD_TIMEOUT, which the flag sets for this process (the engine checks the value).
 */
export function applyBuildTimeout(seconds: string | undefined): void {
  if (seconds !== undefined) process.env.NX_PEX_BUILD_TIMEOUT = seconds;
}
