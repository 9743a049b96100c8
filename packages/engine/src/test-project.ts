/**
 * Running a project's tests from its lock: real pytest (the version the lock pins) in a venv made
 * once per closure and interpreter from the store (a deps PEX of the closure turned into a venv by
 * pex's own `PEX_TOOLS=1 … venv --scope=deps`), kept in the store under a key of exactly its inputs
 * and shared by every project with that closure; first-party projects go on top as editable
 * installs (their code where it is, their dist-info from a small overlay in the store; see
 * `test-overlay.ts`), through PYTHONPATH.
 * Nothing is written into the user's tree but pytest's report, nothing installed into the user's
 * interpreter.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { probeInterpreterCached } from '@nx-pex/interpreter';
import { targetFromInterpreter, UserError, type InterpreterInfo, type TargetPlatform } from '@nx-pex/pep';
import { readPyproject, type PyProject } from '@nx-pex/project';
import { pylockClosure, type Closure } from '@nx-pex/lock';
import { defaultStoreRoot, ensureLayer, WheelStore } from '@nx-pex/store';
import { PINNED_PEX, depsLayerOptions, writePex } from '@nx-pex/pex';
import { withFetchedInputs, type IndexContext } from './pipeline';
import { buildLockedSdists, checkLockedSdistsBuildable, lockedArtifactRequest, selectLockedFiles, type LockedSelection } from './locked-sdists';
import { createContext } from './context';
import { withFileUrl } from './locks';
import type { IndexOverrides } from './index-overrides';
import { noPytestMessage, openTestLock, type TestLock } from './test-lock';
import { editableProjects, ensureTestOverlay, type TestOverlay, type TestOverlayOptions } from './test-overlay';

/** Bumped whenever a test venv made from the same inputs would differ. */
const TEST_VENV_FORMAT = 2;

export interface TestEnvironmentOptions {
  /** Directory holding the project's `pyproject.toml`. */
  projectDir: string;
  /** The lock search stops here (the Nx workspace root). */
  workspaceRoot?: string;
  /** The interpreter the tests run on; default `python3`. */
  python?: string;
  storeDir?: string;
  /** As for builds: true, the generated per-project locks must exist; false, the uv.lock is read directly. */
  lockPerProject?: boolean;
  indexes?: IndexOverrides;
  offline?: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /**
   * Holds the environment's layers (the venv and the overlay) from before they are looked up
   * until the caller releases it, so that `cache prune` leaves them alone while tests run.
   */
  lease?: WheelStore;
}

/** A ready test environment of one project. */
export interface TestEnvironment {
  project: string;
  projectDir: string;
  /** The venv's interpreter. */
  python: string;
  /** The venv's key in the store (a sha256 of its inputs). */
  key: string;
  venvDir: string;
  /** The store had the venv already. */
  reused: boolean;
  /**
   * Directories put before the venv's site-packages: the import roots of the closure's workspace
   * projects (the project's first), then the overlay of their dist-info directories.
   */
  pythonPath: string[];
  /** The overlay: the workspace projects' dist-info directories, in the store. */
  overlay?: string;
  lockFile: string;
  /** pytest's version, as the lock pins it. */
  pytest: string;
}

export interface TestProjectOptions extends TestEnvironmentOptions {
  /** Extra arguments for pytest (after nx-pex's own). */
  args?: string[];
  /** Variables set for the run (over the process's environment). */
  runEnv?: Record<string, string>;
  /** Directory of the JUnit XML report (`junit.xml`) and of coverage data; default `<workspaceRoot>/reports/<project dir>`. */
  reportsDir?: string;
  /** Where pytest's output goes: this process's stdout/stderr (default), or collected and returned. */
  output?: 'inherit' | 'collect';
}

export interface TestProjectResult {
  project: string;
  /** pytest's exit status (0: every test passed). */
  exitCode: number;
  junitXml: string;
  environment: TestEnvironment;
  /** pytest's output, when collected. */
  output?: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The interpreter's identity for the venv's key: its real path, version and platform. */
function interpreterIdentity(info: InterpreterInfo, target: TargetPlatform, python: string): Record<string, unknown> {
  let real = info.executable ?? python;
  try {
    real = realpathSync(real);
  } catch {
    /* a path that is gone is keyed as it was given */
  }
  return { executable: real, version: info.version.join('.'), abiflags: info.abiflags, target: target.id };
}

/**
 * The key of a test venv: every file that goes in (wheel name and sha256, sdists by theirs), the
 * pex runtime that installs them and the interpreter it is made for.
 */
export function testVenvKey(selection: LockedSelection, identity: Record<string, unknown>): string {
  const files = [
    ...selection.wheels.map(({ wheel }) => `${wheel.filename}:${wheel.sha256.toLowerCase()}`),
    ...selection.sdists.map((p) => `sdist:${p.sdist!.filename}:${p.sdist!.sha256.toLowerCase()}`),
  ].sort();
  return sha256(JSON.stringify({ format: TEST_VENV_FORMAT, kind: 'test-venv', runtime: PINNED_PEX.sha256, interpreter: identity, files }));
}

/**
 * The first-party part of a test run, as directories for PYTHONPATH: the import roots of the
 * project and of the workspace projects its test closure holds (their code as it is in the
 * tree, as an editable install has it), then the overlay of their dist-info directories.
 */
async function firstPartyPath(project: PyProject, closure: Closure, lockFile: string, o: TestOverlayOptions): Promise<{ paths: string[]; overlay?: TestOverlay }> {
  const projects = await editableProjects(project, closure, lockFile);
  const paths: string[] = [];
  for (const p of projects) for (const r of p.roots) if (!paths.includes(r)) paths.push(r);
  const overlay = await ensureTestOverlay(projects, o);
  if (overlay) paths.push(overlay.site);
  return { paths, ...(overlay ? { overlay } : {}) };
}

// Environments being made in this process (a batch of test tasks shares them), by key.
const making = new Map<string, Promise<{ reused: boolean; venvDir: string }>>();

function runQuiet(python: string, args: string[], env: NodeJS.ProcessEnv, what: string, o: { cwd?: string; ok?: number[] } = {}): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(python, args, { env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (e) => reject(new UserError(`Cannot run ${python} to make the test environment: ${e.message}`)));
    child.on('close', (code) => {
      if ((o.ok ?? [0]).includes(code ?? -1)) resolveRun();
      else reject(new UserError(`Making the test environment failed (${what}, exit ${code}):\n${out.trim()}`));
    });
  });
}

/**
 * pex's venv tool makes the venv from the deps PEX; then the byte code of every module in it is
 * written (`compileall`) before the venv is sealed in the store, so that runs read it instead of
 * compiling what they import (where the sealed, read-only directories keep Python from writing,
 * as for a user who is not root) and rarely add any (byte code added later is allowed by the
 * layer, see `makeVenv`). A file that does not compile (exit status 1) cannot be imported either,
 * so it fails the import as it would anywhere.
 */
async function runVenvTool(python: string, pex: string, dest: string, pexRoot: string, env: NodeJS.ProcessEnv): Promise<void> {
  const clean = { ...env, PEX_VERBOSE: '0', PEX_PYTHON: undefined, PEX_PYTHON_PATH: undefined, PYTHONPATH: undefined, PYTHONDONTWRITEBYTECODE: undefined, PYTEST_ADDOPTS: undefined };
  await runQuiet(python, [pex, 'venv', '--scope=deps', dest], { ...clean, PEX_TOOLS: '1', PEX_ROOT: pexRoot }, `${python} ${pex} venv`);
  await runQuiet(join(dest, 'bin', 'python'), ['-m', 'compileall', '-q', '-j', '0', join(dest, 'lib')], clean, 'compileall', { ok: [0, 1] });
}

/**
 * The test environment of the project at `projectDir`: its test lock's closure for the interpreter
 * as a venv in the store (made when the store does not have it yet), and its first-party paths.
 */
export async function prepareTestEnvironment(o: TestEnvironmentOptions): Promise<TestEnvironment> {
  const env = o.env ?? process.env;
  const log = o.log ?? (() => undefined);
  const projectDir = resolve(o.projectDir);
  const project = await readPyproject(join(projectDir, 'pyproject.toml'));
  if (!project.name) throw new UserError(`${project.file} has no [project] table, so there are no tests of a project to run.`);
  const storeRoot = resolve(o.storeDir ?? defaultStoreRoot(env));
  const python = o.python ?? 'python3';
  const [lock, info] = await Promise.all([
    openTestLock({ projectDir, project: project.name, workspaceRoot: o.workspaceRoot, lockPerProject: o.lockPerProject, storeDir: storeRoot }),
    probeInterpreterCached(python, { cacheDir: join(storeRoot, 'interpreters'), env }),
  ]);
  const target = targetFromInterpreter(info);
  const closure = pylockClosure(lock.pylock, target, { project: project.name, groups: lock.groups, extras: lock.extras });
  const pytest = closure.thirdParty.find((p) => p.name === 'pytest');
  if (!pytest) throw new UserError(noPytestMessage(lock, project.name, project.file));
  const selection = selectLockedFiles(closure, target, lock.path);
  selection.wheels = selection.wheels.map(({ pkg, wheel }) => ({ pkg, wheel: withFileUrl(wheel, lock.path) }));
  const key = testVenvKey(selection, interpreterIdentity(info, target, python));
  await o.lease?.hold(key);
  let pending = making.get(`${storeRoot}\0${key}`);
  // Another task of this process (a batch) makes or made the same environment: this one takes it.
  const shared = pending !== undefined;
  if (!pending) {
    pending = makeVenv({ ...o, env, log, storeRoot, key, lock, selection, target, info, project: project.name });
    making.set(`${storeRoot}\0${key}`, pending);
    pending.catch(() => making.delete(`${storeRoot}\0${key}`));
  }
  const overlayOptions = { storeRoot, python, projectRoot: projectDir, indexes: o.indexes, env, log, lease: o.lease };
  const [made, firstParty] = await Promise.all([pending, firstPartyPath(project, closure, lock.path, overlayOptions)]);
  const venv = { ...made, reused: made.reused || shared };
  log(`${project.name}: test environment ${key.slice(0, 12)} ${venv.reused ? 'reused from' : 'made in'} the store (${dirname(venv.venvDir)})`);
  return {
    project: project.name,
    projectDir,
    python: join(venv.venvDir, 'bin', 'python'),
    key,
    venvDir: venv.venvDir,
    reused: venv.reused,
    pythonPath: firstParty.paths,
    ...(firstParty.overlay ? { overlay: firstParty.overlay.site } : {}),
    lockFile: lock.path,
    pytest: pytest.version ?? '',
  };
}

interface MakeVenv extends TestEnvironmentOptions {
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  storeRoot: string;
  key: string;
  lock: TestLock;
  selection: LockedSelection;
  target: TargetPlatform;
  info: InterpreterInfo;
  project: string;
}

async function makeVenv(m: MakeVenv): Promise<{ reused: boolean; venvDir: string }> {
  const store = new WheelStore(m.storeRoot);
  try {
    // Taken as it is when the store has it: no index, no fetching.
    const layer = await ensureLayer(store, m.key, async (dir) => {
      const pins = [...m.selection.wheels.map((w) => w.pkg), ...m.selection.sdists].map((p) => (p.version ? `${p.name}==${p.version}` : p.name)).sort();
      const ctx = createContext({ env: m.env, storeDir: m.storeRoot, log: m.log, offline: m.offline, indexes: m.indexes });
      const select = async (index: IndexContext) => {
        const build = { lockFile: m.lock.path, target: m.target, python: m.python ?? 'python3' };
        await checkLockedSdistsBuildable([{ sdists: m.selection.sdists, build }], index, ctx);
        const built = await buildLockedSdists(m.selection.sdists, build, index, ctx);
        return { artifacts: [...m.selection.wheels.map((w) => lockedArtifactRequest(w, m.lock.path)), ...built] };
      };
      await withFetchedInputs({ targets: [m.target], projectRoot: resolve(m.projectDir) }, ctx, select, async ({ runtime, dependencies, shebang }) => {
        const pex = join(dir, 'deps.pex');
        await writePex(pex, depsLayerOptions({ runtime, dependencies, sources: [], requirements: pins, shebang, includeTools: true }));
        // The store's own PEX_ROOT: a wheel several closures share is unpacked there once, and
        // every venv hard-links its files from it.
        await runVenvTool(m.info.executable ?? m.python ?? 'python3', pex, join(dir, 'venv'), join(m.storeRoot, 'pex-root'), m.env);
        await rm(pex, { force: true });
      });
      await writeFile(
        join(dir, 'layer.json'),
        `${JSON.stringify({ kind: 'test-venv', target: m.target.id, python: m.info.executable ?? m.python ?? 'python3', pex: PINNED_PEX.version, packages: pins }, null, 1)}\n`,
      );
      // pytest adds the rewritten byte code of plugins and of what a user's conftest registers for
      // rewriting: byte code the layer allows, with everything recorded still verified.
    }, { bytecode: true });
    return { reused: layer.reused, venvDir: join(layer.path, 'venv') };
  } finally {
    await store.release();
  }
}

/**
 * Runs the project's tests: pytest from its test environment, in the project's directory, with a
 * JUnit XML report (and coverage data, when pytest-cov is asked for) in `reportsDir`.
 */
export async function testProject(o: TestProjectOptions): Promise<TestProjectResult> {
  // The run holds its venv and overlay until pytest is done: a prune meanwhile leaves them.
  const lease = new WheelStore(resolve(o.storeDir ?? defaultStoreRoot(o.env ?? process.env)));
  try {
    return await runTests(o, await prepareTestEnvironment({ ...o, lease }));
  } finally {
    await lease.release();
  }
}

async function runTests(o: TestProjectOptions, environment: TestEnvironment): Promise<TestProjectResult> {
  const base = o.env ?? process.env;
  const workspaceRoot = resolve(o.workspaceRoot ?? environment.projectDir);
  const reportsDir = resolve(o.reportsDir ?? join(workspaceRoot, 'reports', relative(workspaceRoot, environment.projectDir)));
  await mkdir(reportsDir, { recursive: true });
  const junitXml = join(reportsDir, 'junit.xml');
  // A report of an earlier run never stands for this one.
  await rm(junitXml, { force: true });
  const given = { ...o.runEnv };
  const userPath = given.PYTHONPATH ?? base.PYTHONPATH;
  const env: NodeJS.ProcessEnv = {
    ...base,
    ...given,
    PYTHONPATH: [...environment.pythonPath, ...(userPath ? [userPath] : [])].join(delimiter),
    COVERAGE_FILE: given.COVERAGE_FILE ?? base.COVERAGE_FILE ?? join(reportsDir, '.coverage'),
    // The venv is the environment: nothing of a PEX or an outer venv leaks in.
    VIRTUAL_ENV: environment.venvDir,
    PYTHONHOME: undefined,
  };
  const args = ['-m', 'pytest', `--junitxml=${junitXml}`, ...(o.args ?? [])];
  const { code, output } = await run(environment.python, args, environment.projectDir, env, o.output ?? 'inherit');
  return { project: environment.project, exitCode: code, junitXml, environment, ...(output !== undefined ? { output } : {}) };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, output: 'inherit' | 'collect'): Promise<{ code: number; output?: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: output === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let text = '';
    if (output === 'collect') {
      child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    }
    child.on('error', (e) => reject(new UserError(`Cannot run pytest (${cmd}): ${e.message}`)));
    child.on('close', (code, signal) => resolveRun({ code: code ?? (signal ? 128 : 1), ...(output === 'collect' ? { output: text } : {}) }));
  });
}
