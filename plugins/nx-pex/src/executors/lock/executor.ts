import { join, relative } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import { UserError } from '@nx-pex/pep';
import { completePlatformPath, createContext, lockRequirements } from '@nx-pex/engine';

/** Target options (see `schemas/lock.json`); complete platform files are relative to the project. */
export interface LockExecutorOptions {
  python?: string | string[];
  platforms?: string[];
  completePlatforms?: string[];
  universal?: boolean;
  storeDir?: string;
}

/** `nx run <project>:lock`: the project's `[project] dependencies` resolved into its pylock.toml. */
export default async function lockExecutor(options: LockExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const project = context.projectName ? context.projectsConfigurations.projects[context.projectName] : undefined;
  if (!project) {
    logger.error('nx-pex:lock must run as the target of a project.');
    return { success: false };
  }
  const projectDir = join(context.root, project.root);
  try {
    const { python, completePlatforms, storeDir, ...rest } = options;
    const pythons = python === undefined ? undefined : ([] as string[]).concat(python);
    const ctx = createContext({ storeDir, log: (l) => logger.info(l) });
    const done = await lockRequirements({ ...rest, projectDir, pythons, completePlatforms: completePlatforms?.map((c) => completePlatformPath(c, projectDir)) }, ctx);
    logger.info(`nx-pex: wrote ${relative(context.root, done.path)}: ${done.packages} packages for ${done.targets.join(', ')}`);
    return { success: true };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    logger.error(`nx-pex: ${err.message}`);
    return { success: false };
  }
}
