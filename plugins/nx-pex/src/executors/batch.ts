/**
 * Nx's batch protocol for nx-pex's executors (`batchImplementation`, run under `--batch` or
 * `NX_BATCH_MODE=true`): one process runs every task of the batch, a few at a time, each after
 * the tasks it depends on. Each task's lines are collected as its own output and its result is
 * yielded as soon as it finishes; a failed task fails only itself, and the tasks that depend on
 * it are reported as skipped. A batch executor supplies only how to run one task.
 */
import type { ExecutorContext, TaskGraph } from '../nx-api';

/** What a batch executor reports to Nx for each task, as soon as the task finishes. */
export interface TaskResult {
  success: boolean;
  terminalOutput: string;
  startTime: number;
  endTime: number;
  status?: 'success' | 'failure' | 'skipped';
}

export interface BatchTaskResult {
  task: string;
  result: TaskResult;
}

/** Where one task's lines go: Nx's logger for a single task, the task's own output in a batch. */
export interface TaskLog {
  info(line: string): void;
  error(line: string): void;
}

/** What is particular to one executor's batch: how to run a task, and how to read its outcome. */
export interface BatchWork<Options, Outcome> {
  /** The executor, in messages (`nx-pex:build`). */
  executor: string;
  /** Tasks run at once. */
  concurrency: number;
  /** What a task whose dependency failed was not (`built`, `run`). */
  notDone: string;
  /**
   * Runs one task. A user's mistake is written to `log` and resolves to a failed outcome; a
   * rejection is a bug of nx-pex (that task fails with the trace, the others go on).
   */
  run(options: Options, workspaceRoot: string, project: { name: string; root: string }, log: TaskLog): Promise<Outcome>;
  succeeded(outcome: Outcome): boolean;
  /** The task's output lines from its log and its outcome (none when it did not finish); by default the log. */
  output?(logged: string[], outcome: Outcome | undefined): string[];
}

/** The IDs a task waits for (Nx gives edges as IDs or as `{ id }` objects, by version). */
function dependenciesOf(graph: TaskGraph, id: string, batch: ReadonlySet<string>): string[] {
  const edges = (graph.dependencies[id] ?? []) as Array<string | { id: string }>;
  return edges.map((e) => (typeof e === 'string' ? e : e.id)).filter((d) => batch.has(d));
}

function startTask<O, R>(work: BatchWork<O, R>, id: string, taskGraph: TaskGraph, options: O, context: ExecutorContext): Promise<BatchTaskResult> {
  const task = taskGraph.tasks[id]!;
  const name = task.target.project;
  const root = task.projectRoot ?? context.projectsConfigurations.projects[name]?.root;
  const lines: string[] = [];
  const log: TaskLog = { info: (l) => void lines.push(l), error: (l) => void lines.push(l) };
  const startTime = Date.now();
  const finish = (success: boolean, outcome?: R): BatchTaskResult => {
    const text = (work.output ? work.output(lines, outcome) : lines).join('\n');
    return { task: id, result: { success, status: success ? 'success' : 'failure', terminalOutput: text ? `${text}\n` : '', startTime, endTime: Date.now() } };
  };
  if (root === undefined) {
    log.error(`${work.executor}: task ${id} names project ${name}, which the workspace does not have.`);
    return Promise.resolve(finish(false));
  }
  return work.run(options, context.root, { name, root }, log).then(
    (outcome) => finish(work.succeeded(outcome), outcome),
    (err: unknown) => {
      log.error(`nx-pex: internal error: ${err instanceof Error ? err.stack : String(err)}`);
      return finish(false);
    },
  );
}

/** Runs the tasks of `taskGraph` (each with its `inputs` under the `overrides`) and yields each result as it finishes. */
export async function* runBatch<O extends object, R>(
  work: BatchWork<O, R>,
  taskGraph: TaskGraph,
  inputs: Record<string, O>,
  overrides: O,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  const ids = Object.keys(taskGraph.tasks);
  const batch = new Set(ids);
  const waitsFor = new Map(ids.map((id) => [id, dependenciesOf(taskGraph, id, batch)]));
  const done = new Map<string, boolean>();
  const running = new Map<string, Promise<BatchTaskResult>>();
  const pending = [...ids];
  while (pending.length || running.size) {
    for (let i = 0; i < pending.length && running.size < work.concurrency; ) {
      const id = pending[i]!;
      const deps = waitsFor.get(id)!;
      const failed = deps.filter((d) => done.get(d) === false);
      if (failed.length) {
        // A task whose dependency failed is not run.
        pending.splice(i, 1);
        done.set(id, false);
        const now = Date.now();
        yield { task: id, result: { success: false, status: 'skipped', terminalOutput: `nx-pex: not ${work.notDone}, because ${failed.join(', ')} failed.\n`, startTime: now, endTime: now } };
        i = 0;
      } else if (deps.every((d) => done.get(d) === true)) {
        pending.splice(i, 1);
        running.set(id, startTask(work, id, taskGraph, { ...inputs[id], ...overrides } as O, context));
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
