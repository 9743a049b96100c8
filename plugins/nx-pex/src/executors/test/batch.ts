/**
 * The test executor's batch implementation (`runBatch`, `nx run-many -t test --batch`): one
 * process runs the tasks, so the modules, the interpreter probe and parsed locks are loaded once,
 * and projects with the same closure share one test environment (made once, while the others
 * wait for it). Each task's output is pytest's, collected.
 */
import { cpus } from 'node:os';
import type { ExecutorContext, TaskGraph } from '../../nx-api';
import { runBatch, type BatchTaskResult } from '../batch';
import { testTarget, type TestExecutorOptions } from './executor';
export type { BatchTaskResult } from '../batch';

const EXIT_LINE = /^nx-pex: pytest exited/;

export default function testBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, TestExecutorOptions>,
  overrides: TestExecutorOptions,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  return runBatch(
    {
      executor: 'nx-pex:test',
      // The tests themselves are the work: one pytest per core.
      concurrency: Math.max(1, cpus().length),
      notDone: 'run',
      run: (options, root, project, log) => testTarget(options, root, project, log, 'collect'),
      succeeded: (r) => r.success,
      // nx-pex's lines, pytest's output, then the line saying how pytest exited.
      output: (logged, r) => [...logged.filter((l) => !EXIT_LINE.test(l)), (r?.output ?? '').replace(/\n$/, ''), ...logged.filter((l) => EXIT_LINE.test(l))].filter(Boolean),
    },
    taskGraph,
    inputs,
    overrides,
    context,
  );
}
