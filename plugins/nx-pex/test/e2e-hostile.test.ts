/**
 * End to end with the real `nx`, under bad luck and bad input: a build killed (SIGKILL) or
 * interrupted (SIGINT) while it writes leaves no temporary file in the output directory, so no
 * cache entry ever holds one; a console-script name that is a path fails the build and writes
 * nothing outside the output directory.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { startIndexServer, type IndexServer } from '../../../tools/index-server/src';

const run = promisify(execFile);
const REPO = join(__dirname, '..', '..', '..');
const WHEELS = join(REPO, '.cache', 'wheels');
const NX = join(REPO, 'node_modules', '.bin', 'nx');
const SKIP = new Set(['node_modules', '.git', '.cache', 'dist', '.nx', '.venv', '__pycache__']);

jest.setTimeout(600_000);

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;
let ws: string;

async function makeWorkspace(name: string): Promise<string> {
  const root = join(scratch, name);
  await cp(REPO, root, {
    recursive: true,
    filter: (src) => {
      const rel = relative(REPO, src);
      return rel === '' || !rel.split('/').some((part) => SKIP.has(part));
    },
  });
  await symlink(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

async function nx(...args: string[]): Promise<{ ok: boolean; log: string }> {
  try {
    const { stdout, stderr } = await run(NX, args, { cwd: ws, env, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, log: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, log: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const outDir = () => join(ws, 'dist/examples/services/service-b');
const temps = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => /\.tmp(\.old)?$/.test(n)) : []);

beforeAll(async () => {
  if (!existsSync(WHEELS) || !readdirSync(WHEELS).some((f) => f.startsWith('pex-'))) {
    throw new Error(`${WHEELS} has no fixture wheels: run \`python3 tools/fixtures/fetch.py\` first.`);
  }
  server = await startIndexServer({ dir: WHEELS });
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-e2e-hostile-'));
  env = {
    ...process.env,
    PIP_INDEX_URL: server.url,
    PIP_EXTRA_INDEX_URL: '',
    PIP_FIND_LINKS: '',
    PIP_CONFIG_FILE: '/dev/null',
    NX_PEX_STORE: join(scratch, 'store'),
    PEX_ROOT: join(scratch, 'pex-root'),
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    NX_SKIP_NX_CACHE: undefined,
    CI: 'true',
  };
  ws = await makeWorkspace('ws');
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
