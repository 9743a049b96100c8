/**
 * End to end, with the real `nx`: the graph is the lock's graph. A member reached only through an
 * extra of a workspace dependency (cli → app → lib[evals] → evals, found by name at run time, so
 * no import names it) makes its dependents affected and rebuilt; libraries get their own
 * pylock.toml, so a lock bump of a package only a library depends on marks that library (and
 * what uses it) affected; a `[tool.nx-pex] entry-point` alone makes a build target; and a lock
 * bump committed without `nx sync` never passes `nx affected` silently.
 */
import { existsSync } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexServer } from '@nx-pex/index-server';
import { CLONE_SKIP, makeWorkspace, NX, nxOutcome, sh as runIn, startWorkspaceIndex } from './workspace-support';

const FIXTURE = join(__dirname, 'fixtures', 'graph-lock');

jest.setTimeout(600_000);

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;
let ws: string;

const sh = (cwd: string, cmd: string, args: string[]): Promise<string> => runIn(cwd, cmd, args, env);
const nx = (args: string[]) => sh(ws, NX, args);
const pexOf = (project: string, name = project) => join(ws, 'dist', 'examples', project, `${name}.pex`);

/** `> nx run <project>:build [<cache status>]` lines of a run: project → status ('' when it ran). */
function taskStatus(log: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of log.matchAll(/(?:>|✔|✖)\s+nx run ([\w.-]+):build(?:[ \t]+\[([^\]\n]+)\])?/g)) out[m[1]] = m[2] ?? '';
  return out;
}

async function affectedProjects(): Promise<string[]> {
  const out = await nx(['show', 'projects', '--affected', '--base=HEAD', '--json']);
  return (JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)) as string[]).sort();
}

async function commitAll(message: string): Promise<void> {
  await sh(ws, 'git', ['add', '-A']);
  await sh(ws, 'git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', message]);
}

async function changedFiles(): Promise<string[]> {
  return (await sh(ws, 'git', ['status', '--porcelain'])).split('\n').filter(Boolean).map((l) => l.slice(3)).sort();
}

beforeAll(async () => {
  ({ server, scratch, env } = await startWorkspaceIndex('nx-pex-graph-lock-', 'six-1.16.0'));
  delete env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
  ws = await makeWorkspace(join(scratch, 'ws'), [...CLONE_SKIP, 'examples']);
  // The plugin of this repository's nx.json covers examples/**: the fixture workspace goes there.
  await cp(join(FIXTURE, 'workspace'), join(ws, 'examples'), { recursive: true });
  await cp(join(FIXTURE, 'uv.lock'), join(ws, 'examples', 'uv.lock'));
  expect(await nx(['sync'])).toMatch(/synced successfully/);
  await sh(ws, 'git', ['init', '-q']);
  await commitAll('workspace');
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the graph is the lock’s graph', () => {
  it('gives every project, library or service, its pylock.toml, and a build target to an entry-point-only project', async () => {
    for (const p of ['app', 'cli', 'evals', 'lib', 'sixlib', 'svc', 'tool']) expect([p, existsSync(join(ws, 'examples', p, 'pylock.toml'))]).toEqual([p, true]);
    const buildable = (await nx(['show', 'projects', '--withTarget=build'])).split('\n').filter((l) => /^[\w.-]+$/.test(l)).sort();
    expect(buildable).toEqual(['cli', 'svc', 'tool']);
    const built = taskStatus(await nx(['run-many', '-t', 'build']));
    expect(Object.keys(built).sort()).toEqual(['cli', 'svc', 'tool']);
    expect((await sh(ws, pexOf('cli'), [])).trim()).toBe('app: evals v1');
    expect((await sh(ws, pexOf('svc'), [])).trim()).toBe('six 1.17.0');
    expect((await sh(ws, pexOf('tool'), [])).trim()).toBe('tool runs');
  });

  it('makes cli affected and rebuilds it when evals, which it reaches only through lib[evals], changes', async () => {
    await writeFile(join(ws, 'examples/evals/src/evals/__init__.py'), 'def score() -> str:\n    return "evals v2"\n');
    const affected = await affectedProjects();
    expect(affected).toEqual(expect.arrayContaining(['app', 'cli', 'evals']));
    for (const p of ['lib', 'sixlib', 'svc', 'tool']) expect(affected).not.toContain(p);
    const status = taskStatus(await nx(['affected', '-t', 'build', '--base=HEAD']));
    expect(status).toEqual({ cli: '' });
    expect((await sh(ws, pexOf('cli'), [])).trim()).toBe('app: evals v2');
    // Built again through run-many, it is a cache hit now; the others were never rebuilt.
    const again = taskStatus(await nx(['run-many', '-t', 'build']));
    expect(again.cli).toMatch(/cache/);
    await commitAll('evals v2');
  });

  it('does not pass `nx affected -t build` when a uv.lock bump is committed without nx sync: the stale project is built and says to run nx sync', async () => {
    await cp(join(FIXTURE, 'uv.six-1.16.0.lock'), join(ws, 'examples', 'uv.lock'));
    const { ok, log } = await nxOutcome(ws, ['affected', '-t', 'build', '--base=HEAD'], { ...env, CI: 'true' });
    expect(log).not.toMatch(/No tasks were run/);
    expect(log).toMatch(/nx sync/);
    expect(ok).toBe(false);
  });

  it('after the lock bump of six and nx sync, marks the library that depends on six (and its service) affected, and rebuilds the service', async () => {
    await nx(['sync']);
    expect(await changedFiles()).toEqual(['examples/sixlib/pylock.toml', 'examples/svc/pylock.toml', 'examples/uv.lock']);
    expect(await affectedProjects()).toEqual(['sixlib', 'svc']);
    const status = taskStatus(await nx(['affected', '-t', 'build', '--base=HEAD']));
    expect(status).toEqual({ svc: '' });
    expect((await sh(ws, pexOf('svc'), [])).trim()).toBe('six 1.16.0');
    await commitAll('six 1.16.0');
    expect(await readFile(join(ws, 'examples/sixlib/pylock.toml'), 'utf8')).toContain('version = "1.16.0"');
  });
});
