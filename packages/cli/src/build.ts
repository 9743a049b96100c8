import { dirname, resolve } from 'node:path';
import { streamProgress } from '@nx-pex/store';
import { OPTIONS, resolveOptionPaths, type OptionSpec } from '@nx-pex/project';
import { buildProject, buildRequirements, createContext, type IndexOverrides, type LayeredOptions } from '@nx-pex/engine';
import { buildHelp, parseBuildArgs, type BuildArgs } from './build-args';
import { UsageError } from './errors';

/** The PEX options the command passes on as they are (`-c` is read by the command). */
const PASSED_ON = (OPTIONS as readonly OptionSpec[]).filter((o) => o.scope === 'pex' && !o.cli?.byCommand).map((o) => o.field);

/** The PEX options of the command line, with their paths resolved against `cwd`. */
export function cliPexOptions(a: BuildArgs, cwd = process.cwd()): LayeredOptions {
  const given = a as unknown as Record<string, unknown>;
  const o: Record<string, unknown> = {};
  for (const field of PASSED_ON) if (given[field] !== undefined) o[field] = given[field];
  return resolveOptionPaths(o as LayeredOptions, cwd);
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
    storeDir: a.storeDir,
    indexes: indexOverrides(a),
    offline: a.offline || undefined,
    disableCache: a.disableCache || undefined,
    progress: a.quiet ? undefined : streamProgress(process.stderr),
    log: a.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`),
  });
  // What both kinds of build take from the command line.
  const common = { lockFile: a.lock, python: a.python, pex };
  const scripts = a.scripts ?? [];

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
