import { join, resolve } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import { UserError } from '@nx-pex/pep';
import { buildProject, completePlatformPath, PEX_BUILD_OPTION_NAMES, type PexBuildOptions } from '@nx-pex/engine';

/** Target options: nx-pex's own, and pex's options (see `schemas/build.json`); paths are relative to the workspace root. */
export interface BuildExecutorOptions extends PexBuildOptions {
  scripts?: string[];
  python?: string;
  lockFile?: string;
  outputPath?: string;
  storeDir?: string;
}

function pexOptions(options: BuildExecutorOptions, root: string): PexBuildOptions {
  const out: Record<string, unknown> = {};
  for (const name of PEX_BUILD_OPTION_NAMES) if (options[name] !== undefined) out[name] = options[name];
  if (options.sources) out.sources = options.sources.map((d) => resolve(root, d));
  if (options.completePlatforms) out.completePlatforms = options.completePlatforms.map((c) => completePlatformPath(c, root));
  return out as PexBuildOptions;
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
  const root = context.root;
  try {
    await buildProject({
      projectDir: join(root, project.root),
      workspaceRoot: root,
      outputDir: join(root, options.outputPath ?? join('dist', project.root)),
      scripts: options.scripts,
      python: options.python,
      lockFile: options.lockFile ? join(root, options.lockFile) : undefined,
      storeDir: options.storeDir,
      pex: pexOptions(options, root),
      log: (line) => logger.info(line),
    });
    return { success: true };
  } catch (err) {
    if (err instanceof UserError) {
      logger.error(`nx-pex: ${(err as Error).message}`);
      return { success: false };
    }
    throw err;
  }
}
