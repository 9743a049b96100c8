/**
 * What a test needs from the machine, declared instead of checked by hand.
 *
 * A suite that needs Docker, a pyenv interpreter, uv, pex or a local registry names those
 * capabilities. Where one is missing, the suite is skipped locally with the reason in its name
 * (jest lists it as skipped), and in CI (`CI` set and not "false") it fails with the same
 * reason: a missing tool never reads as green there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The repository root (tools/testkit/src → ../../..). */
export const REPO = join(__dirname, '..', '..', '..');

/**
 * One thing a test needs: `docker` (a daemon answering and the local base image), `python3`
 * (the machine's python3 on PATH), `python3=3.11` (that python3 is CPython 3.11, the version the
 * recorded fixtures are for), `wheels` (the fixture wheels tools/fixtures/fetch.py puts in
 * .cache/wheels), `python3.12` and the like (a pyenv CPython of that minor version), `uv`, `pex` (the pinned pex
 * in .cache/pex-venv), `pip` (python3 -m pip), `registry` (Debian's docker-registry), `skopeo`,
 * `podman`, `linux-x64` (the machine the recorded fixtures are for), or `network` (a registry
 * beyond 127.0.0.1: npm, apt).
 */
export type Capability =
  | 'docker'
  | 'python3'
  | `python3=3.${number}`
  | 'wheels'
  | `python3.${number}`
  | 'uv'
  | 'pex'
  | 'pip'
  | 'registry'
  | 'skopeo'
  | 'podman'
  | 'linux-x64'
  | 'network';

/** The Docker base image `tools/docker/start.sh` imports. */
export const DOCKER_BASE_IMAGE = 'nx-pex-test-python:bookworm';

/** The Docker client to use: the distribution's (it matches its daemon and builds with BuildKit), chosen when asked, after start-up. */
export function dockerClient(): string {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

function runs(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** The pyenv CPython of a minor version (`3.12`), if installed. */
export function pyenvPython(minor: string): string | undefined {
  const versions = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  if (!existsSync(versions)) return undefined;
  const found = readdirSync(versions)
    .filter((v) => v.startsWith(`${minor}.`) && /^\d+\.\d+\.\d+$/.test(v))
    .sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]))[0];
  const bin = found && join(versions, found, 'bin', `python${minor}`);
  return bin && existsSync(bin) ? bin : undefined;
}

/** uv: the copy the test setup installs into .cache/uv-venv, else one on PATH. */
export function uvBinary(): string | undefined {
  const cached = join(REPO, '.cache', 'uv-venv', 'bin', 'uv');
  if (existsSync(cached)) return cached;
  return onPath('uv');
}

/** The pinned pex the test setup installs into .cache/pex-venv. */
export function pexBinary(): string | undefined {
  const bin = join(REPO, '.cache', 'pex-venv', 'bin', 'pex');
  return existsSync(bin) ? bin : undefined;
}

const checked = new Map<Capability, string | undefined>();

/** Why `cap` is missing here, or undefined when it is present. */
export function whyMissing(cap: Capability): string | undefined {
  if (checked.has(cap)) return checked.get(cap);
  const reason = check(cap);
  checked.set(cap, reason);
  return reason;
}

function check(cap: Capability): string | undefined {
  const system = /^python3=(3\.\d+)$/.exec(cap);
  if (system) {
    if (!runs('python3', ['-c', 'pass'])) return 'no python3 runs from PATH';
    return runs('python3', ['-c', `import sys; sys.exit(0 if "%d.%d" % sys.version_info[:2] == "${system[1]}" and sys.implementation.name == "cpython" else 1)`])
      ? undefined
      : `python3 on PATH is not CPython ${system[1]}`;
  }
  const py = /^python(3\.\d+)$/.exec(cap);
  if (py) return pyenvPython(py[1]!) ? undefined : `no pyenv CPython ${py[1]} (install it with pyenv)`;
  switch (cap) {
    case 'python3':
      return runs('python3', ['-c', 'pass']) ? undefined : 'no python3 runs from PATH';
    case 'wheels': {
      const dir = join(REPO, '.cache', 'wheels');
      return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.whl')) ? undefined : `${dir} has no wheels (run python3 tools/fixtures/fetch.py; npm test's pretest does)`;
    }
    case 'docker': {
      const docker = dockerClient();
      if (!runs(docker, ['info'])) return 'no Docker daemon answers (tools/docker/start.sh starts one as root)';
      if (!runs(docker, ['image', 'inspect', DOCKER_BASE_IMAGE])) return `the base image ${DOCKER_BASE_IMAGE} is missing (tools/docker/start.sh makes it)`;
      return undefined;
    }
    case 'uv':
      return uvBinary() ? undefined : 'uv is not installed (npm test\'s pretest puts it in .cache/uv-venv)';
    case 'pex':
      return pexBinary() ? undefined : 'the pinned pex is not installed (npm test\'s pretest puts it in .cache/pex-venv)';
    case 'pip':
      return runs('python3', ['-m', 'pip', '--version']) ? undefined : 'python3 has no pip';
    case 'registry':
      return onPath('docker-registry') || existsSync('/usr/bin/docker-registry') ? undefined : 'docker-registry is not installed (apt-get install docker-registry)';
    case 'skopeo':
      return onPath('skopeo') ? undefined : 'skopeo is not installed (apt-get install skopeo)';
    case 'podman':
      return onPath('podman') ? undefined : 'podman is not installed (apt-get install podman)';
    case 'linux-x64':
      return process.platform === 'linux' && process.arch === 'x64' ? undefined : `this machine is ${process.platform}-${process.arch}, not linux-x64`;
    case 'network':
      return process.env.NX_PEX_TEST_OFFLINE === '1' ? 'NX_PEX_TEST_OFFLINE=1 forbids registries beyond 127.0.0.1' : undefined;
  }
  return `unknown capability ${cap as string}`;
}

/** True in CI, where a missing capability fails instead of skipping. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.CI && env.CI !== 'false' && env.CI !== '0';
}

/** The reasons the first missing capability of `caps` gives, or undefined when all are here. */
export function missing(caps: Capability[]): string | undefined {
  const reasons = caps.map((c) => [c, whyMissing(c)] as const).filter(([, r]) => r !== undefined);
  return reasons.length ? reasons.map(([c, r]) => `needs ${c}: ${r}`).join('; ') : undefined;
}

/**
 * `describe` for a suite that needs `caps`: runs it when they are all here; otherwise skips it
 * with the reason in its name, or in CI fails one test with that reason.
 */
export function describeWith(caps: Capability[], name: string, fn: () => void): void {
  const reason = missing(caps);
  if (reason === undefined) {
    describe(name, fn);
  } else if (inCI()) {
    describe(name, () => {
      it(`cannot run in CI: ${reason}`, () => {
        throw new Error(`${name} ${reason}`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${reason}]`, fn);
  }
}

/** `it` for a test that needs `caps`, with `describeWith`'s rules. */
export function itWith(caps: Capability[], name: string, fn: () => Promise<unknown> | void, timeout?: number): void {
  const reason = missing(caps);
  if (reason === undefined) it(name, fn, timeout);
  else if (inCI()) {
    it(`${name} (cannot run in CI: ${reason})`, () => {
      throw new Error(`${name} ${reason}`);
    });
  } else it.skip(`${name} [skipped: ${reason}]`, fn, timeout);
}
