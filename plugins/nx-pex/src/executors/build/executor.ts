import { join } from 'node:path';
import { logger, type ExecutorContext } from '../../nx-api';
import { UserError } from '@nx-pex/pep';
import { resolveOptionPaths, type NxTargetOptions } from '@nx-pex/project';
import { buildProject, createContext, PEX_BUILD_OPTION_NAMES, type PexBuildOptions } from '@nx-pex/engine';
import type { TaskLog } from '../batch';

/**
 * Target options (the registry's options with `nx: true`; `schemas/build.json` is generated from
 * it); paths are relative to the workspace root.
 */
export type BuildExecutorOptions = NxTargetOptions;

/** The PEX options among a target's options, with their paths resolved against the workspace root. */
export function targetPexOptions(options: BuildExecutorOptions, root: string): PexBuildOptions {
  const given = options as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of PEX_BUILD_OPTION_NAMES) if (given[name] !== undefined) out[name] = given[name];
  return resolveOptionPaths(out as PexBuildOptions, root);
}

/**
 * Builds one project's target; a user's mistake is reported through `log` (Nx's logger for a
 * single task, the task's own output in a batch) as a failed target, anything else (a bug of
 * nx-pex) is thrown.
 */
export async function buildTarget(
  options: BuildExecutorOptions,
  workspaceRoot: string,
  project: { name: string; root: string },
  log: TaskLog,
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
      pex: targetPexOptions(options, workspaceRoot),
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
