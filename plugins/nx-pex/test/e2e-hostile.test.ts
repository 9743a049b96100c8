/**
 * End to end with the real `nx`, under bad luck and bad input: a build killed (SIGKILL) or
 * interrupted (SIGINT) while it writes leaves no temporary file in the output directory, so no
 * cache entry ever holds one; a console-script name that is a path fails the build and writes
 * nothing outside the output directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexServer } from '@nx-pex/index-server';
import { makeWorkspace, NX, nxOutcome, startWorkspaceIndex } from './workspace-support';

jest.setTimeout(600_000);

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;
let ws: string;

const nx = (...args: string[]): Promise<{ ok: boolean; log: string }> => nxOutcome(ws, args, env);

const outDir = () => join(ws, 'dist/examples/services/service-b');
const temps = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => /\.tmp(\.old)?$/.test(n)) : []);

beforeAll(async () => {
  ({ server, scratch, env } = await startWorkspaceIndex('nx-pex-e2e-hostile-', 'pex-'));
  ws = await makeWorkspace(join(scratch, 'ws'));
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Runs `nx build service-b` in its own process group and stops the group once the PEX is being written. */
async function stopWhileWriting(signal: NodeJS.Signals): Promise<boolean> {
  const outputs = join(scratch, 'store', 'tmp', 'outputs');
  const child = spawn(NX, ['build', 'service-b', '--skip-nx-cache'], { cwd: ws, env, stdio: 'ignore', detached: true });
  let done = false;
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  void exited.then(() => (done = true));
  let seen = false;
  while (!done) {
    // Wherever the build keeps it (earlier versions wrote it inside the output directory).
    if (temps(outputs).length > 0 || temps(outDir()).length > 0) {
      seen = true;
      process.kill(-child.pid!, signal);
      break;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await exited;
  // Whatever the group left running (a task process outliving nx) is stopped too.
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  await new Promise((r) => setTimeout(r, 500));
  return seen;
}

it.each(['SIGKILL', 'SIGINT'] as const)('a build stopped by %s while writing leaves no temporary file for Nx to cache', async (signal) => {
  // A first build fills the store, so the stopped one spends its time writing.
  expect((await nx('build', 'service-b')).ok).toBe(true);
  let seen = false;
  for (let i = 0; i < 10 && !seen; i++) {
    await rm(outDir(), { recursive: true, force: true });
    seen = await stopWhileWriting(signal);
  }
  expect(seen).toBe(true);
  expect(temps(outDir())).toEqual([]);
  // The next real build is cached; restored from that cache, the output holds the PEX alone.
  const rebuilt = await nx('build', 'service-b', '--skip-nx-cache');
  expect(rebuilt.ok).toBe(true);
  expect(readdirSync(outDir())).toEqual(['service-b.pex']);
  await rm(outDir(), { recursive: true, force: true });
  const hit = await nx('build', 'service-b');
  expect(hit.log).toMatch(/local cache/);
  expect(readdirSync(outDir()).sort()).toEqual(['service-b.pex']);
  expect(temps(join(scratch, 'store', 'tmp', 'outputs'))).toEqual([]);
});

it('a console-script name that is a path fails nx build and writes nothing outside the output directory', async () => {
  const pyproject = join(ws, 'examples/services/service-a/pyproject.toml');
  const text = await readFile(pyproject, 'utf8');
  await writeFile(pyproject, text.replace(/^service-a = /m, '"../../../../escaped" = '));
  try {
    const res = await nx('build', 'service-a', '--skip-nx-cache');
    expect(res.ok).toBe(false);
    expect(res.log).toMatch(/service-a\/pyproject\.toml \[project\.scripts\]: "\.\.\/\.\.\/\.\.\/\.\.\/escaped" cannot name a PEX file/);
    expect(existsSync(join(ws, 'escaped.pex'))).toBe(false);
    expect(existsSync(join(ws, 'dist', 'escaped.pex'))).toBe(false);
    expect(readdirSync(ws).filter((n) => n.includes('escaped'))).toEqual([]);
  } finally {
    await writeFile(pyproject, text);
  }
});
