import { join, resolve } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import { UserError } from '@nx-pex/pep';
import { buildProject, completePlatformPath, createContext, PEX_BUILD_OPTION_NAMES, type PexBuildOptions } from '@nx-pex/engine';

/** Target options: nx-pex's own, and pex's options (see `schemas/build.json`); paths are relative to the workspace root. */
export interface BuildExecutorOptions extends PexBuildOptions {
  scripts?: string[];
  python?: string;
  lockFile?: string;
  /** true: build from the project's pylock.toml (kept by `nx sync`); false: from the uv.lock; default: the pylock.toml when there is one. */
  lockPerProject?: boolean;
  outputPath?: string;
  storeDir?: string;
  /** Set by the plugin for a project it cannot build (two projects of one name): the build fails with it. */
  problem?: string;
}

function pexOptions(options: BuildExecutorOptions, root: string): PexBuildOptions {
  const out: Record<string, unknown> = {};
  for (const name of PEX_BUILD_OPTION_NAMES) if (options[name] !== undefined) out[name] = options[name];
  if (options.sources) out.sources = options.sources.map((d) => resolve(root, d));
  if (options.completePlatforms) out.completePlatforms = options.completePlatforms.map((c) => completePlatformPath(c, root));
  return out as PexBuildOptions;
}

/** Where a build's lines go: Nx's logger for a single task, the task's own output in a batch. */
export interface BuildLog {
  info(line: string): void;
  error(line: string): void;
}

/**
 * Builds one project's target; a user's mistake is reported through `log` as a failed target,
 * anything else (a bug of nx-pex) is thrown.
 */
export async function buildTarget(
  options: BuildExecutorOptions,
  workspaceRoot: string,
  project: { name: string; root: string },
  log: BuildLog,
): Promise<boolean> {
  if (options.problem) {
    log.error(`nx-pex: ${options.problem}`);
    return false;
  }
  try {
    await buildProject({
      projectDir: join(workspaceRoot, project.root),
      workspaceRoot,
      outputDir: join(workspaceRoot, options.outputPath ?? join('dist', project.root)),
      scripts: options.scripts,
      python: options.python,
      lockFile: options.lockFile ? join(workspaceRoot, options.lockFile) : undefined,
      lockPerProject: options.lockPerProject,
      pex: pexOptions(options, workspaceRoot),
    }, createContext({ storeDir: options.storeDir, log: (line) => log.info(line) }));
    return true;
  } catch (err) {
    if (err instanceof UserError) {
      log.error(`nx-pex: ${(err as Error).message}`);
      return false;
    }
    throw err;
  }
}

export default async function buildExecutor(
  options: BuildExecutorOptions,
  context: ExecutorContext,
): Promise<{ success: boolean }> {
  const name = context.projectName;
  const project = name ? context.projectsConfigurations.projects[name] : undefined;
  if (!name || !project) {
    logger.error('nx-pex:build must run as the target of a project.');
    return { success: false };
  }
  return { success: await buildTarget(options, context.root, { name, root: project.root }, logger) };
}
