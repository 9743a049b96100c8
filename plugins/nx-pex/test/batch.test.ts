/**
 * The build executor's batch implementation, called in-process as Nx calls it under `--batch`:
 * every task of the batch built in one process, results reported per task with the task's own
 * output, a dependency finished before its dependents start, and a failure confined to its task
 * and the tasks that depend on it. The runner both batch executors use (`runBatch`) is checked on
 * its own with tasks that do no work.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import buildBatch, { type BatchTaskResult } from '../src/executors/build/batch';
import { runBatch } from '../src/executors/batch';
import { copyPinnedPex } from './support';

jest.setTimeout(120_000);

let ws: string;
const savedEnv = { ...process.env };
const PROJECTS = ['alpha', 'beta', 'gamma', 'broken', 'after-broken'];

async function project(name: string, pyproject?: string): Promise<void> {
  const module = name.replace(/-/g, '_');
  await mkdir(join(ws, name, 'src', module), { recursive: true });
  await writeFile(
    join(ws, name, 'pyproject.toml'),
    pyproject ?? `[project]\nname = "${name}"\nversion = "0.1.0"\n\n[project.scripts]\n${name} = "${module}.main:main"\n`,
  );
  await writeFile(join(ws, name, 'src', module, '__init__.py'), '');
  await writeFile(join(ws, name, 'src', module, 'main.py'), `def main():\n    print("${name} says hi")\n`);
}

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'nx-pex-batch-'));
  await copyPinnedPex(join(ws, 'wheels'));
  process.env.PIP_FIND_LINKS = join(ws, 'wheels');
  process.env.PIP_NO_INDEX = '1';
  delete process.env.NX_PEX_OFFLINE;
  for (const name of PROJECTS) await project(name);
  // `broken` has no console script: its build is a user error.
  await project('broken', '[project]\nname = "broken"\nversion = "0.1.0"\n');
  const lock = ['version = 1', 'revision = 3', 'requires-python = ">=3.8"'];
  for (const name of PROJECTS) lock.push('', '[[package]]', `name = "${name}"`, 'version = "0.1.0"', `source = { editable = "${name}" }`);
  await writeFile(join(ws, 'uv.lock'), lock.join('\n') + '\n');
});

afterEach(async () => {
  process.env = { ...savedEnv };
  await rm(ws, { recursive: true, force: true });
});

/** A task graph of `<project>:build` tasks; `deps` maps a project to the projects it waits for. */
function graph(deps: Record<string, string[]>): TaskGraph {
  const id = (p: string) => `${p}:build`;
  const tasks: TaskGraph['tasks'] = {};
  const dependencies: TaskGraph['dependencies'] = {};
  for (const p of PROJECTS) {
    tasks[id(p)] = { id: id(p), target: { project: p, target: 'build' }, overrides: {}, outputs: [], projectRoot: p, cache: true } as TaskGraph['tasks'][string];
    dependencies[id(p)] = (deps[p] ?? []).map((d) => ({ id: id(d) })) as TaskGraph['dependencies'][string];
  }
  return { roots: PROJECTS.filter((p) => !deps[p]?.length).map(id), tasks, dependencies, continuousDependencies: {} } as TaskGraph;
}

const context = (): ExecutorContext =>
  ({
    root: ws,
    cwd: ws,
    isVerbose: false,
    projectsConfigurations: { version: 2, projects: Object.fromEntries(PROJECTS.map((p) => [p, { root: p }])) },
  }) as unknown as ExecutorContext;

it('builds every task in one process, in dependency order, isolating a failure', async () => {
  const taskGraph = graph({ gamma: ['alpha', 'beta'], 'after-broken': ['broken'] });
  const store = join(ws, 'store');
  const inputs = Object.fromEntries(Object.keys(taskGraph.tasks).map((id) => [id, { storeDir: store }]));
  const results: BatchTaskResult[] = [];
  for await (const r of buildBatch(taskGraph, inputs, {}, context())) results.push(r);

  const byTask = new Map(results.map((r) => [r.task, r.result]));
  expect(results.map((r) => r.task).sort()).toEqual(PROJECTS.map((p) => `${p}:build`).sort());
  expect(results).toHaveLength(PROJECTS.length);

  for (const p of ['alpha', 'beta', 'gamma']) {
    const r = byTask.get(`${p}:build`)!;
    expect(r.success).toBe(true);
    // Each task's output is its own.
    expect(r.terminalOutput).toContain(`${p}: wrote`);
    for (const other of PROJECTS.filter((o) => o !== p)) expect(r.terminalOutput).not.toContain(`${other}: wrote`);
    const pex = join(ws, 'dist', p, `${p}.pex`);
    expect(execFileSync('python3', [pex], { encoding: 'utf8', env: { ...process.env, PEX_ROOT: join(ws, 'pex-root') } }).trim()).toBe(`${p} says hi`);
  }
  // gamma started only after both of its dependencies had finished, and is reported after them.
  const gamma = byTask.get('gamma:build')!;
  for (const d of ['alpha', 'beta']) expect(gamma.startTime).toBeGreaterThanOrEqual(byTask.get(`${d}:build`)!.endTime);
  const order = results.map((r) => r.task);
  expect(order.indexOf('gamma:build')).toBeGreaterThan(Math.max(order.indexOf('alpha:build'), order.indexOf('beta:build')));

  // The user error fails its own task with its message, and its dependent is skipped, not built.
  const broken = byTask.get('broken:build')!;
  expect(broken.success).toBe(false);
  expect(broken.terminalOutput).toMatch(/^nx-pex: .*broken\/pyproject\.toml: broken has no \[project\.scripts\]/m);
  expect(broken.terminalOutput).not.toMatch(/^\s+at /m);
  const skipped = byTask.get('after-broken:build')!;
  expect(skipped).toMatchObject({ success: false, status: 'skipped' });
  expect(skipped.terminalOutput).toContain('broken:build failed');
  expect(order.indexOf('after-broken:build')).toBeGreaterThan(order.indexOf('broken:build'));
  expect(existsSync(join(ws, 'dist', 'after-broken'))).toBe(false);
});

describe('runBatch, the bookkeeping both batch executors share', () => {
  /** Tasks a, b, c (c waits for a and b), d (waits for c), e (a project the workspace lacks). */
  function smallGraph(): TaskGraph {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const deps: Record<string, string[]> = { c: ['a', 'b'], d: ['c'] };
    const tasks: TaskGraph['tasks'] = {};
    const dependencies: TaskGraph['dependencies'] = {};
    for (const p of ids) {
      tasks[`${p}:t`] = { id: `${p}:t`, target: { project: p, target: 't' }, overrides: {}, outputs: [], ...(p === 'e' ? {} : { projectRoot: `r/${p}` }) } as TaskGraph['tasks'][string];
      // Nx 22 gives edges as IDs, later versions as objects: both are read.
      dependencies[`${p}:t`] = (deps[p] ?? []).map((d, i) => (i % 2 ? `${d}:t` : { id: `${d}:t` })) as TaskGraph['dependencies'][string];
    }
    return { roots: ['a:t', 'b:t', 'e:t'], tasks, dependencies, continuousDependencies: {} } as TaskGraph;
  }
  const ctx = { root: '/ws', cwd: '/ws', isVerbose: false, projectsConfigurations: { version: 2, projects: {} } } as unknown as ExecutorContext;

  async function collect(run: (o: { flag?: string }, root: string, p: { name: string; root: string }, log: { info(l: string): void; error(l: string): void }) => Promise<string>, output?: (logged: string[], r: string | undefined) => string[]) {
    const seen: string[] = [];
    const results: BatchTaskResult[] = [];
    const work = { executor: 'nx-pex:try', concurrency: 2, notDone: 'tried', run: (o: { flag?: string }, root: string, p: { name: string; root: string }, log: { info(l: string): void; error(l: string): void }) => (seen.push(p.name), run(o, root, p, log)), succeeded: (r: string) => r === 'ok', output };
    const inputs = Object.fromEntries(Object.keys(smallGraph().tasks).map((id) => [id, { flag: `input of ${id}` }]));
    for await (const r of runBatch(work, smallGraph(), inputs, {}, ctx)) results.push(r);
    return { seen, results, byTask: new Map(results.map((r) => [r.task, r.result])) };
  }

  it('runs tasks after their dependencies, each with its own options, root and output', async () => {
    const { seen, results, byTask } = await collect(async (o, root, p, log) => {
      log.info(`${p.name} in ${root}/${p.root} with ${o.flag}`);
      await new Promise((r) => setTimeout(r, p.name === 'a' ? 30 : 5));
      return 'ok';
    });
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(byTask.get('c:t')).toMatchObject({ success: true, status: 'success', terminalOutput: 'c in /ws/r/c with input of c:t\n' });
    for (const d of ['a:t', 'b:t']) expect(byTask.get('c:t')!.startTime).toBeGreaterThanOrEqual(byTask.get(d)!.endTime);
    expect(byTask.get('d:t')!.startTime).toBeGreaterThanOrEqual(byTask.get('c:t')!.endTime);
    // A task naming a project the workspace lacks fails alone, saying so.
    expect(byTask.get('e:t')).toMatchObject({ success: false, status: 'failure', terminalOutput: 'nx-pex:try: task e:t names project e, which the workspace does not have.\n' });
    expect(results).toHaveLength(5);
  });

  it('fails a task whose run throws with the trace, skips its dependents, and lets the executor shape the output', async () => {
    const { seen, byTask } = await collect(
      async (_o, _root, p, log) => {
        log.info(`${p.name} starts`);
        log.error(`${p.name} ends`);
        if (p.name === 'b') throw new Error('a bug');
        return 'ok';
      },
      (logged, r) => [`outcome ${r ?? 'none'}`, ...logged.reverse()],
    );
    expect(seen.sort()).toEqual(['a', 'b']);
    expect(byTask.get('a:t')!.terminalOutput).toBe('outcome ok\na ends\na starts\n');
    expect(byTask.get('b:t')).toMatchObject({ success: false, status: 'failure' });
    expect(byTask.get('b:t')!.terminalOutput).toMatch(/^outcome none\nnx-pex: internal error: Error: a bug\n\s+at /);
    expect(byTask.get('c:t')).toMatchObject({ success: false, status: 'skipped', terminalOutput: 'nx-pex: not tried, because b:t failed.\n' });
    expect(byTask.get('d:t')).toMatchObject({ success: false, status: 'skipped', terminalOutput: 'nx-pex: not tried, because c:t failed.\n' });
  });
});
