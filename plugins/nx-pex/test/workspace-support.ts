/**
 * Temporary copies of this repository as Nx workspaces, the real `nx` run in them against the
 * local index on the fixture wheels, and free ports on 127.0.0.1. Not a test file.
 */
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { exec as run, FIXTURE_WHEELS as WHEELS, REPO } from './support';

export const NX = join(REPO, 'node_modules', '.bin', 'nx');
/** The build backends (setuptools, hatchling, poetry-core, …) that `tools/fixtures/fetch.py` fetches. */
export const BACKEND_WHEELS = join(REPO, '.cache', 'backend-index');

/**
 * `env` with the build backends' wheels as a find-links directory, for workspaces holding projects
 * whose metadata only their backend knows (dynamic fields, Poetry 1): the backend is installed
 * from there. Searched first, so a lock written in such a workspace may name those files.
 */
export function withBackendWheels(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!existsSync(BACKEND_WHEELS)) throw new Error(`${BACKEND_WHEELS} is missing: run \`python3 tools/fixtures/fetch.py\` (npm test's pretest does) first.`);
  return { ...env, PIP_FIND_LINKS: BACKEND_WHEELS };
}
/** What a fresh clone lacks (or a copy must not share). */
export const CLONE_SKIP = ['node_modules', '.git', '.cache', 'dist', '.nx', '.venv', '__pycache__'];

/**
 * A copy of the repository at `root` as a fresh clone would have it (without the path parts in
 * `skip`), sharing this checkout's node_modules.
 */
export async function makeWorkspace(root: string, skip: readonly string[] = CLONE_SKIP): Promise<string> {
  const skipped = new Set(skip);
  await cp(REPO, root, {
    recursive: true,
    filter: (src) => {
      const rel = relative(REPO, src);
      return rel === '' || !rel.split('/').some((part) => skipped.has(part));
    },
  });
  await symlink(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

/**
 * The local index serving the fixture wheels (one named `<needs>…` must be there), a scratch
 * directory named `<prefix>…`, and an environment in which nx builds there with that index only,
 * its own store and PEX_ROOT, no daemon, no cloud and plain output.
 */
export async function startWorkspaceIndex(prefix: string, needs: string): Promise<{ server: IndexServer; scratch: string; env: NodeJS.ProcessEnv }> {
  if (!existsSync(WHEELS) || !readdirSync(WHEELS).some((f) => f.startsWith(needs))) {
    throw new Error(`${WHEELS} lacks the fixture wheels: run \`python3 tools/fixtures/fetch.py\` (npm test's pretest does) first.`);
  }
  const server = await startIndexServer({ dir: WHEELS });
  const scratch = await mkdtemp(join(tmpdir(), prefix));
  const env: NodeJS.ProcessEnv = {
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
  return { server, scratch, env };
}

/** Runs `cmd` in `cwd`: its stdout and stderr, or an error quoting them. */
export async function sh(cwd: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${basename(cmd)} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

/** Runs nx in `root`: whether it succeeded, and its output either way. */
export async function nxOutcome(root: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; log: string }> {
  try {
    const { stdout, stderr } = await run(NX, args, { cwd: root, env, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, log: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, log: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
