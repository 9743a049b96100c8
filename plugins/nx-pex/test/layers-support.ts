/**
 * A temporary copy of the example uv workspace with a third service, service-c, whose
 * third-party closure equals service-a's (fastapi, uvicorn, and the greeting library), for the
 * layer and Docker tests; and a way to get `/health` from a running service. Not a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './workspace-support';

export { freePort };

const REPO = join(__dirname, '..', '..', '..');

const SERVICE_C_MAIN = `"""HTTP entry point of service-c."""

import argparse

import uvicorn
from fastapi import FastAPI

from greeting import greet

app = FastAPI(title="service-c")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "service": "service-c", "greeting": greet("service-c")}


def main() -> None:
    parser = argparse.ArgumentParser(prog="service-c")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port)
`;

/** Copies `examples/` to `dir` and adds service-c to it and to its uv.lock. */
export async function exampleWithServiceC(dir: string): Promise<string> {
  await cp(join(REPO, 'examples'), dir, { recursive: true, filter: (src) => !/(^|\/)(__pycache__|\.venv)$/.test(src) });
  const c = join(dir, 'services', 'service-c');
  await mkdir(join(c, 'src', 'service_c'), { recursive: true });
  await writeFile(
    join(c, 'pyproject.toml'),
    [
      '[project]',
      'name = "service-c"',
      'version = "0.1.0"',
      'requires-python = ">=3.11"',
      'dependencies = ["fastapi", "uvicorn", "greeting"]',
      '',
      '[project.scripts]',
      'service-c = "service_c.main:main"',
      '',
      '[tool.uv.sources]',
      'greeting = { workspace = true }',
      '',
      '[build-system]',
      'requires = ["hatchling"]',
      'build-backend = "hatchling.build"',
      '',
      '[tool.hatch.build.targets.wheel]',
      'packages = ["src/service_c"]',
      '',
    ].join('\n'),
  );
  await writeFile(join(c, 'src', 'service_c', '__init__.py'), '');
  await writeFile(join(c, 'src', 'service_c', 'main.py'), SERVICE_C_MAIN);
  const lockFile = join(dir, 'uv.lock');
  let lock = await readFile(lockFile, 'utf8');
  lock = lock.replace('    "service-b",\n]', '    "service-b",\n    "service-c",\n]');
  const entry = [
    '[[package]]',
    'name = "service-c"',
    'version = "0.1.0"',
    'source = { editable = "services/service-c" }',
    'dependencies = [',
    '    { name = "fastapi" },',
    '    { name = "greeting" },',
    '    { name = "uvicorn" },',
    ']',
    '',
    '[package.metadata]',
    'requires-dist = [',
    '    { name = "fastapi" },',
    '    { name = "greeting", editable = "libs/greeting" },',
    '    { name = "uvicorn" },',
    ']',
    '',
    '',
  ].join('\n');
  lock = lock.replace('[[package]]\nname = "starlette"', `${entry}[[package]]\nname = "starlette"`);
  if (!lock.includes('name = "service-c"')) throw new Error('could not add service-c to the example lock');
  await writeFile(lockFile, lock);
  return dir;
}

/** Polls `http://127.0.0.1:<port>/health` until it answers or `timeoutMs` passes. */
export async function pollHealth(port: number, timeoutMs: number, alive: () => string | undefined = () => undefined): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead !== undefined) throw new Error(dead);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      return await res.json();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`nothing answered /health on port ${port}: ${String(last)}`);
}

/** Runs `command args... --port N` and returns what `/health` answers; the process is stopped after. */
export async function healthOf(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  const port = await freePort();
  const child: ChildProcess = spawn(command, [...args, '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    return await pollHealth(port, 90_000, () => (child.exitCode !== null ? `${command} exited with ${child.exitCode}:\n${output}` : undefined));
  } finally {
    child.kill('SIGTERM');
  }
}
