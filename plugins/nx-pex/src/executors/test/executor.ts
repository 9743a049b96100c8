import { join } from 'node:path';
import { logger, type ExecutorContext } from '../../nx-api';
import { split as shlexSplit } from 'shlex';
import { UserError } from '@nx-pex/pep';
import { testProject } from '@nx-pex/engine';

/** Target options (see `schemas/test.json`); paths are relative to the workspace root. */
export interface TestExecutorOptions {
  args?: string[] | string;
  /** What follows `--` on Nx's command line. */
  pytestArgs?: string[];
  python?: string;
  env?: Record<string, string>;
  reportsDirectory?: string;
  lockPerProject?: boolean;
  storeDir?: string;
}

/** Where a run's lines go: Nx's logger for a single task, the task's own output in a batch. */
export interface TestLog {
  info(line: string): void;
  error(line: string): void;
}

/** pytest's arguments: the target's `args`, then those given after `--`. */
export function pytestArguments(o: TestExecutorOptions): string[] {
  const configured = typeof o.args === 'string' ? shlexSplit(o.args) : (o.args ?? []);
  return [...configured, ...(o.pytestArgs ?? [])];
}

/**
 * Runs one project's tests. pytest's output goes to the task's output (this process's, or
 * collected in a batch); a user's mistake is one line through `log`; a bug of nx-pex is thrown.
 */
export async function testTarget(
  options: TestExecutorOptions,
  workspaceRoot: string,
  project: { name: string; root: string },
  log: TestLog,
  output: 'inherit' | 'collect' = 'inherit',
): Promise<{ success: boolean; output?: string }> {
  try {
    const result = await testProject({
      projectDir: join(workspaceRoot, project.root),
      workspaceRoot,
      python: options.python,
      storeDir: options.storeDir,
      lockPerProject: options.lockPerProject,
      args: pytestArguments(options),
      runEnv: options.env,
      reportsDir: join(workspaceRoot, options.reportsDirectory ?? join('reports', project.root)),
      output,
      log: (line) => log.info(line),
    });
    if (result.exitCode !== 0) log.error(`nx-pex: pytest exited with status ${result.exitCode} for ${project.name}.`);
    return { success: result.exitCode === 0, ...(result.output !== undefined ? { output: result.output } : {}) };
  } catch (err) {
    if (err instanceof UserError) {
      log.error(`nx-pex: ${(err as Error).message}`);
      return { success: false };
    }
    throw err;
  }
}

export default async function testExecutor(options: TestExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const name = context.projectName;
  const project = name ? context.projectsConfigurations.projects[name] : undefined;
  if (!name || !project) {
    logger.error('nx-pex:test must run as the target of a project.');
    return { success: false };
  }
  const { success } = await testTarget(options, context.root, { name, root: project.root }, logger);
  return { success };
}
