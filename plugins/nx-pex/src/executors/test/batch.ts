/**
 * The test executor's batch implementation (`nx run-many -t test --batch`): one process runs the
 * tasks, so the modules, the interpreter probe and parsed locks are loaded once, and projects with
 * the same closure share one test environment (made once, while the others wait for it). Each
 * task's result comes with pytest's output as soon as it finishes; a failing task fails alone.
 */
import { cpus } from 'node:os';
import type { ExecutorContext, TaskGraph } from '../../nx-api';
import { testTarget, type TestExecutorOptions } from './executor';
import type { BatchTaskResult } from '../batch-result';
export type { BatchTaskResult } from '../batch-result';


/** pytest runs at once: one per core (the tests themselves are the work). */
const CONCURRENCY = Math.max(1, cpus().length);

export default async function* testBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, TestExecutorOptions>,
  overrides: TestExecutorOptions,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  const ids = Object.keys(taskGraph.tasks);
  const running = new Map<string, Promise<BatchTaskResult>>();
  const start = (id: string): Promise<BatchTaskResult> => {
    const task = taskGraph.tasks[id]!;
    const name = task.target.project;
    const root = task.projectRoot ?? context.projectsConfigurations.projects[name]?.root;
    const lines: string[] = [];
    const log = { info: (l: string) => void lines.push(l), error: (l: string) => void lines.push(l) };
    const startTime = Date.now();
    const result = (success: boolean, output = ''): BatchTaskResult => {
      const text = [...lines.filter((l) => !/^nx-pex: pytest exited/.test(l)), output.replace(/\n$/, ''), ...lines.filter((l) => /^nx-pex: pytest exited/.test(l))].filter(Boolean).join('\n');
      return { task: id, result: { success, status: success ? 'success' : 'failure', terminalOutput: text ? `${text}\n` : '', startTime, endTime: Date.now() } };
    };
    if (root === undefined) {
      log.error(`nx-pex:test: task ${id} names project ${name}, which the workspace does not have.`);
      return Promise.resolve(result(false));
    }
    const options = { ...inputs[id], ...overrides } as TestExecutorOptions;
    return testTarget(options, context.root, { name, root }, log, 'collect').then(
      (r) => result(r.success, r.output),
      (err: unknown) => {
        log.error(`nx-pex: internal error: ${err instanceof Error ? err.stack : String(err)}`);
        return result(false);
      },
    );
  };
  const pending = [...ids];
  while (pending.length || running.size) {
    while (pending.length && running.size < CONCURRENCY) {
      const id = pending.shift()!;
      running.set(id, start(id));
    }
    const finished = await Promise.race(running.values());
    running.delete(finished.task);
    yield finished;
  }
}
