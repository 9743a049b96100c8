import { join } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import { UserError } from '@nx-pex/pep';
import { buildProject } from '../../build/build-project';

export interface BuildExecutorOptions {
  scripts?: string[];
  python?: string;
  lockFile?: string;
  outputPath?: string;
  storeDir?: string;
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
      log: (line) => logger.info(line),
    });
    return { success: true };
  } catch (err) {
    if (err instanceof UserError) {
      logger.error(`nx-pex: ${err.message}`);
      return { success: false };
    }
    throw err;
  }
}
