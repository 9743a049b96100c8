/**
 * The build executor's batch implementation: Nx runs it when several nx-pex build tasks run
 * together with `--batch` (or `NX_BATCH_MODE=true`). One process builds them all, so what the
 * builds share is loaded or computed once: the modules, the interpreter probe, the prepared pex
 * runtime, parsed locks. Each task's result (with its own output) is reported as soon as it
 * finishes; a failed task fails only itself and the tasks that depend on it.
 */
import { cpus } from 'node:os';
import type { ExecutorContext, TaskGraph } from '../../nx-api';
import { buildTarget, type BuildExecutorOptions } from './executor';
import type { BatchTaskResult } from '../batch-result';
export type { BatchTaskResult } from '../batch-result';


/** Tasks built at once: the work is mostly file copying, so a few per core. */
const CONCURRENCY = Math.max(2, Math.min(8, cpus().length * 2));

/** The IDs a task waits for (Nx gives edges as IDs or as `{ id }` objects, by version). */
function dependenciesOf(graph: TaskGraph, id: string, batch: ReadonlySet<string>): string[] {
  const edges = (graph.dependencies[id] ?? []) as Array<string | { id: string }>;
  return edges.map((e) => (typeof e === 'string' ? e : e.id)).filter((d) => batch.has(d));
}

export default async function* buildBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, BuildExecutorOptions>,
  overrides: BuildExecutorOptions,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  const ids = Object.keys(taskGraph.tasks);
  const batch = new Set(ids);
  const waitsFor = new Map(ids.map((id) => [id, dependenciesOf(taskGraph, id, batch)]));
  const done = new Map<string, boolean>();
  const running = new Map<string, Promise<BatchTaskResult>>();

  const start = (id: string): Promise<BatchTaskResult> => {
    const task = taskGraph.tasks[id]!;
    const name = task.target.project;
    const root = task.projectRoot ?? context.projectsConfigurations.projects[name]?.root;
    const lines: string[] = [];
    const log = { info: (l: string) => void lines.push(l), error: (l: string) => void lines.push(l) };
    const startTime = Date.now();
    const result = (success: boolean): BatchTaskResult => ({
      task: id,
      result: { success, status: success ? 'success' : 'failure', terminalOutput: lines.join('\n') + (lines.length ? '\n' : ''), startTime, endTime: Date.now() },
    });
    if (root === undefined) {
      log.error(`nx-pex:build: task ${id} names project ${name}, which the workspace does not have.`);
      return Promise.resolve(result(false));
    }
    const options = { ...inputs[id], ...overrides } as BuildExecutorOptions;
    return buildTarget(options, context.root, { name, root }, log).then(result, (err: unknown) => {
      // A bug of nx-pex in one build: that task fails with the trace, the others go on.
      log.error(`nx-pex: internal error: ${err instanceof Error ? err.stack : String(err)}`);
      return result(false);
    });
  };

  const pending = [...ids];
  while (pending.length || running.size) {
    for (let i = 0; i < pending.length && running.size < CONCURRENCY; ) {
      const id = pending[i]!;
      const deps = waitsFor.get(id)!;
      if (deps.some((d) => done.get(d) === false)) {
        // A task whose dependency failed is not run.
        pending.splice(i, 1);
        done.set(id, false);
        const now = Date.now();
        const failed = deps.filter((d) => done.get(d) === false).join(', ');
        yield { task: id, result: { success: false, status: 'skipped', terminalOutput: `nx-pex: not built, because ${failed} failed.\n`, startTime: now, endTime: now } };
        i = 0;
        continue;
      }
      if (deps.every((d) => done.get(d) === true)) {
        pending.splice(i, 1);
        running.set(id, start(id));
      } else {
        i++;
      }
    }
    if (!running.size) break;
    const finished = await Promise.race(running.values());
    running.delete(finished.task);
    done.set(finished.task, finished.result.success);
    yield finished;
  }
}
