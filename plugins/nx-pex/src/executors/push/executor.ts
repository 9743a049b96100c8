import { join } from 'node:path';
import { logger, type ExecutorContext } from '../../nx-api';
import { UserError } from '@nx-pex/pep';
import { pushProject } from '@nx-pex/engine';

/** Target options (see `schemas/push.json`). */
export interface PushExecutorOptions {
  imageRepository?: string;
  imageTags?: string[];
  /** Only this script's image. */
  script?: string;
  /** Write `<dir>/<script>.tar` for `docker load` instead of pushing (relative to the workspace root). */
  archiveDir?: string;
  insecure?: boolean;
  /** Where the build wrote image/ (relative to the workspace root); default dist/<project root>. */
  outputPath?: string;
  storeDir?: string;
}

/** `nx run <project>:push`: the project's built images sent to its repository. */
export default async function pushExecutor(options: PushExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const project = context.projectName ? context.projectsConfigurations.projects[context.projectName] : undefined;
  if (!project) {
    logger.error('nx-pex:push must run as the target of a project.');
    return { success: false };
  }
  try {
    await pushProject({
      projectDir: join(context.root, project.root),
      outputDir: join(context.root, options.outputPath ?? join('dist', project.root)),
      pex: {
        ...(options.imageRepository !== undefined ? { imageRepository: options.imageRepository } : {}),
        ...(options.imageTags !== undefined ? { imageTags: options.imageTags } : {}),
      },
      script: options.script,
      archiveDir: options.archiveDir !== undefined ? join(context.root, options.archiveDir) : undefined,
      insecure: options.insecure,
      storeDir: options.storeDir,
      log: (l) => logger.info(l),
    });
    return { success: true };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    logger.error(`nx-pex: ${err.message}`);
    return { success: false };
  }
}
