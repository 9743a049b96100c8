/**
 * The build executor's batch implementation (`runBatch`): one process builds every task, so what
 * the builds share is loaded or computed once: the modules, the interpreter probe, the prepared
 * pex runtime, parsed locks.
 */
import { cpus } from 'node:os';
import type { ExecutorContext, TaskGraph } from '../../nx-api';
import { runBatch, type BatchTaskResult } from '../batch';
import { buildTarget, type BuildExecutorOptions } from './executor';
export type { BatchTaskResult } from '../batch';

export default function buildBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, BuildExecutorOptions>,
  overrides: BuildExecutorOptions,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  return runBatch(
    {
      executor: 'nx-pex:build',
      // The work is mostly file copying: a few builds per core.
      concurrency: Math.max(2, Math.min(8, cpus().length * 2)),
      notDone: 'built',
      run: buildTarget,
      succeeded: (built) => built,
    },
    taskGraph,
    inputs,
    overrides,
    context,
  );
}
