/**
 * A real image from the Docker context of `--docker`: built twice around a source edit, the
 * second build must take every step up to the sources from Docker's cache (the deps layer's
 * COPY, its `venv --scope=deps` RUN and the final stage's COPY of the deps venv), and the
 * container must serve service-a's `/health` with the edited code.
 *
 * No registry is reachable, so the base image is `nx-pex-test-python:bookworm`, a minimal
 * Debian bookworm with python3 that `tools/docker/start.sh` makes with debootstrap (cached under
 * `.cache/docker/`); that script also installs and starts Docker where it can (.ci/run runs it
 * before the tests). Without a daemon and that image the suite is skipped with the reason locally
 * and fails in CI (testkit's `describeWith(['docker'])`). The Docker client is chosen when a
 * command runs, after start-up: the distribution's (/usr/bin/docker, which matches its daemon and
 * builds with BuildKit) once start.sh has installed it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DOCKER_BASE_IMAGE as BASE_IMAGE, describeWith, dockerClient } from '@nx-pex/testkit';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { exampleWithServiceC, freePort, pollHealth } from './layers-support';
import { FIXTURE_WHEELS, requireBuiltCli, runCli } from './support';

const exec = promisify(execFile);

jest.setTimeout(900_000);

async function docker(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  return exec(dockerClient(), args, { env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 });
}

interface Step {
  name: string;
  cached: boolean;
}

/** The steps of a `docker build --progress=plain` (BuildKit) or classic build log, with whether each came from the cache. */
function buildSteps(log: string): Step[] {
  const steps = new Map<string, Step>();
  let current: Step | undefined;
  for (const line of log.split('\n')) {
    const bk = /^#(\d+) \[([^\]]+)\] (.*)$/.exec(line);
    if (bk) {
      if (!steps.has(bk[1]!)) steps.set(bk[1]!, { name: `[${bk[2]}] ${bk[3]}`, cached: false });
      continue;
    }
    const bkCached = /^#(\d+) CACHED$/.exec(line);
    if (bkCached) {
      const s = steps.get(bkCached[1]!);
      if (s) s.cached = true;
      continue;
    }
    const classic = /^Step (\d+\/\d+) : (.*)$/.exec(line);
    if (classic) {
      current = { name: classic[2]!, cached: false };
      steps.set(`classic-${classic[1]}`, current);
      continue;
    }
    if (current && /^ ---> Using cache$/.test(line)) current.cached = true;
  }
  return [...steps.values()];
}

describeWith(['docker'], 'Docker image from --docker', () => {
  let server: IndexServer | undefined;
  let scratch: string;
  const tag = `nx-pex-test-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    requireBuiltCli();
    server = await startIndexServer({ dir: FIXTURE_WHEELS });
    scratch = await mkdtemp(join(tmpdir(), 'nx-pex-docker-'));
  });

  afterAll(async () => {
    await server?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await docker(['rmi', '-f', `${tag}:1`, `${tag}:2`]).catch(() => undefined);
  });

  it('builds an image whose deps layers survive a source edit, and runs it', async () => {
    const ws = await exampleWithServiceC(join(scratch, 'ws'));
    const env = { PIP_INDEX_URL: server!.url, NX_PEX_STORE: join(scratch, 'store'), PEX_ROOT: join(scratch, 'pex-root') };
    const out = join(scratch, 'dist');
    const context = async () => {
      const r = await runCli(['build', '--project', join(ws, 'services/service-a'), '--output-dir', out, '--docker', '--docker-base-image', BASE_IMAGE], { env });
      if (r.code !== 0) throw new Error(`nx-pex build failed:\n${r.stderr}`);
    };
    const build = async (t: string) => {
      try {
        const { stdout, stderr } = await docker(['build', '--progress=plain', '-t', t, join(out, 'docker')], { env: { DOCKER_BUILDKIT: '1' } });
        return `${stdout}\n${stderr}`;
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string; message: string };
        throw new Error(`docker build failed:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`);
      }
    };

    await context();
    await build(`${tag}:1`);
    // An edit no earlier run has made, so that Docker's cache cannot hold its sources layer.
    const token = randomBytes(4).toString('hex');
    const messages = join(ws, 'libs/greeting/src/greeting/messages.txt');
    await writeFile(messages, `Hello from edit ${token}, {name}!\n`);
    await context();
    const log = await build(`${tag}:2`);

    const steps = buildSteps(log);
    const step = (re: RegExp) => {
      const found = steps.filter((s) => re.test(s.name));
      if (found.length !== 1) throw new Error(`expected one step matching ${re} in:\n${log}`);
      return found[0]!;
    };
    // Everything up to the sources comes from the cache ...
    expect(step(/COPY \[?"?deps\.pex/).cached).toBe(true);
    expect(step(/venv\W+--scope=deps/).cached).toBe(true);
    expect(step(/COPY --from=deps /).cached).toBe(true);
    // ... and only the sources are built again.
    expect(step(/COPY \[?"?service-a\.pex/).cached).toBe(false);
    expect(step(/venv\W+--scope=srcs/).cached).toBe(false);
    expect(step(/COPY --from=srcs-service-a /).cached).toBe(false);

    const port = await freePort();
    const { stdout: id } = await docker(['run', '-d', '--network', 'host', `${tag}:2`, '--port', String(port)]);
    try {
      const body = await pollHealth(port, 120_000);
      expect(body).toEqual({ status: 'ok', service: 'service-a', greeting: `Hello from edit ${token}, service-a!` });
    } finally {
      await docker(['rm', '-f', id.trim()]).catch(() => undefined);
    }
    expect(await readFile(join(out, 'docker/Dockerfile'), 'utf8')).toMatch(new RegExp(`^FROM ${BASE_IMAGE} AS deps$`, 'm'));
  });
});
