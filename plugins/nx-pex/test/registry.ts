/**
 * A local npm registry for the packaging tests: Verdaccio 6.8.0, installed once into the
 * git-ignored `.cache/verdaccio` (with the node-fetch override that makes it install on Node 20),
 * listening on 127.0.0.1 and proxying every package but nx-pex to the npm registry npm is
 * configured with.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './support';

const run = promisify(execFile);
const VERDACCIO_VERSION = '6.8.0';
const VERDACCIO_DIR = join(REPO, '.cache', 'verdaccio');
const VERDACCIO_BIN = join(VERDACCIO_DIR, 'node_modules', '.bin', 'verdaccio');

/** Installs Verdaccio into `.cache/verdaccio` unless it is there. */
export async function ensureVerdaccio(): Promise<string> {
  if (existsSync(VERDACCIO_BIN)) return VERDACCIO_BIN;
  await mkdir(VERDACCIO_DIR, { recursive: true });
  await writeFile(
    join(VERDACCIO_DIR, 'package.json'),
    JSON.stringify({ name: 'nx-pex-test-verdaccio', private: true, overrides: { 'node-fetch': '2.7.0' } }),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', `verdaccio@${VERDACCIO_VERSION}`], { cwd: VERDACCIO_DIR, maxBuffer: 16 << 20 });
  return VERDACCIO_BIN;
}

export interface Registry {
  url: string;
  /** A token of a user who may publish. */
  token: string;
  /** `.npmrc` lines that point npm at this registry with that token. */
  npmrc: string;
  stop(): Promise<void>;
}

async function upstreamRegistry(): Promise<string> {
  const { stdout } = await run('npm', ['config', 'get', 'registry']);
  return stdout.trim() || 'https://registry.npmjs.org/';
}

/** Starts Verdaccio on `port` with its storage under `dir`, and creates a publishing user. */
export async function startRegistry(dir: string, port: number): Promise<Registry> {
  const bin = await ensureVerdaccio();
  await mkdir(join(dir, 'storage'), { recursive: true });
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      '    max_users: 10',
      'uplinks:',
      '  upstream:',
      `    url: ${await upstreamRegistry()}`,
      '    timeout: 120s',
      'packages:',
      "  'nx-pex':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      '    proxy: upstream',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}/`;
  const child: ChildProcess = spawn(bin, ['--config', config, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  try {
    const token = await createUser(url, child, () => output);
    return { url, token, npmrc: `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function createUser(url: string, child: ChildProcess, output: () => string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited (${child.exitCode}):\n${output()}`);
    try {
      const res = await fetch(`${url}-/user/org.couchdb.user:ci`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ci', password: 'ci-password-not-secret' }),
      });
      const body = (await res.json()) as { token?: string };
      if (res.ok && body.token) return body.token;
      throw new Error(`verdaccio refused the user: ${res.status} ${JSON.stringify(body)}`);
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`verdaccio did not answer at ${url}: ${(e as Error).message}\n${output()}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
