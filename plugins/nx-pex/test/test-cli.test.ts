/**
 * `nx-pex test` without Nx, on a copy of the example workspace with the fixture wheels served
 * from a local index: pytest from the project's test lock, its status, its report, the shared
 * environment in the store, and one clear message for each kind of bad input.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, type IndexServer } from '../../../tools/index-server/src';
import { FIXTURE_WHEELS, REPO, requireBuiltCli, runCli } from './support';

jest.setTimeout(300_000);

let scratch: string;
let ws: string;
let server: IndexServer;
let store: string;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { cwd: ws, env: { PIP_INDEX_URL: server.url, NX_PEX_STORE: store, PEX_ROOT: join(scratch, 'pex-root'), PYTEST_ADDOPTS: '', ...env } });

/** The store's layers by the kind their layer.json names (test-venv, test-overlay). */
async function layersOfKind(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const key of await readdir(join(store, 'layers'))) {
    const kind = (JSON.parse(await readFile(join(store, 'layers', key, 'layer.json'), 'utf8')) as { kind: string }).kind;
    (out[kind] ??= []).push(key);
  }
  return out;
}

beforeAll(async () => {
  requireBuiltCli();
  if (!existsSync(join(FIXTURE_WHEELS, 'pytest-9.2.0-py3-none-any.whl'))) throw new Error(`${FIXTURE_WHEELS} lacks pytest: run \`python3 tools/fixtures/fetch.py\` first.`);
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-test-cli-'));
  ws = join(scratch, 'ws');
  store = join(scratch, 'store');
  await cp(join(REPO, 'examples'), join(ws, 'examples'), { recursive: true, filter: (s) => !/__pycache__|\.pytest_cache/.test(s) });
  server = await startIndexServer({ dir: FIXTURE_WHEELS });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it("runs a project's tests with the pytest its lock pins, writes the JUnit report, and takes the environment from the store the next time", async () => {
  const first = await cli(['test', '--project', 'examples/libs/greeting', '--', '-v']);
  expect([first.code, first.stderr]).toEqual([0, expect.stringMatching(/greeting: test environment [0-9a-f]{12} made in the store/)]);
  expect(first.stdout).toMatch(/pytest-9\.2\.0/);
  expect(first.stdout).toMatch(/tests\/test_greeting\.py::test_greet_uses_the_packaged_template PASSED/);
  const report = await readFile(join(ws, 'reports', 'examples', 'libs', 'greeting', 'junit.xml'), 'utf8');
  expect(report).toMatch(/tests="2"/);
  // The venv is in the store, not in the project; pytest's version is the lock's.
  expect(existsSync(join(ws, 'examples', 'libs', 'greeting', '.venv'))).toBe(false);
  // One venv, and the overlay of greeting's dist-info beside it.
  const layers = await layersOfKind();
  expect([layers['test-venv']?.length, layers['test-overlay']?.length]).toEqual([1, 1]);
  const venv = join(store, 'layers', layers['test-venv']![0]!, 'venv');
  const venvPytest = (await readdir(join(venv, 'lib', (await readdir(join(venv, 'lib')))[0]!, 'site-packages'))).filter((f) => /^pytest-.*\.dist-info$/.test(f));
  expect(venvPytest).toEqual(['pytest-9.2.0.dist-info']);
  expect(await readdir(join(store, 'layers', layers['test-overlay']![0]!, 'site'))).toEqual(['greeting-0.1.0.dist-info']);
  const second = await cli(['test', '--project', 'examples/libs/greeting', '--reports-dir', 'out']);
  expect([second.code, second.stderr]).toEqual([0, expect.stringMatching(/reused from the store/)]);
  expect(existsSync(join(ws, 'out', 'junit.xml'))).toBe(true);
  // A service with numpy: another closure, another environment; its workspace dependency on the path.
  const b = await cli(['test', '--project', 'examples/services/service-b', '-q', '--', '-q']);
  expect([b.code, b.stdout]).toEqual([0, expect.stringMatching(/2 passed/)]);
  expect((await layersOfKind())['test-venv']).toHaveLength(2);
});

it('keeps the environment sealed when Python writes byte code: run after run, it is reused', async () => {
  // As on a developer's machine: Python writes the byte code of what it imports. pytest's own
  // stepwise plugin (not loaded with -p no:cacheprovider) is imported by a plain run.
  const writing = { PYTHONDONTWRITEBYTECODE: undefined };
  for (let run = 0; run < 3; run++) {
    const r = await cli(['test', '--project', 'examples/libs/greeting'], writing);
    expect([r.code, r.stderr]).toEqual([0, expect.stringMatching(/greeting: test environment [0-9a-f]{12} (made in|reused from) the store/)]);
    if (run > 0) expect(r.stderr).toMatch(/reused from the store/);
  }
});

it("exits with pytest's status and output when a test fails, and honours PYTEST_ADDOPTS and --env", async () => {
  const failing = join(ws, 'examples', 'libs', 'greeting', 'tests', 'test_env.py');
  await writeFile(failing, 'import os\n\n\ndef test_env() -> None:\n    assert os.environ.get("GREETING_MODE") == "loud"\n');
  try {
    const bad = await cli(['test', '--project', 'examples/libs/greeting', '-q']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAILED tests\/test_env\.py::test_env/);
    const good = await cli(['test', '--project', 'examples/libs/greeting', '-q', '--env', 'GREETING_MODE=loud']);
    expect([good.code, good.stdout]).toEqual([0, expect.stringMatching(/3 passed/)]);
    const only = await cli(['test', '--project', 'examples/libs/greeting', '-q'], { PYTEST_ADDOPTS: '-k packaged' });
    expect([only.code, only.stdout]).toEqual([0, expect.stringMatching(/1 passed, 2 deselected/)]);
  } finally {
    await rm(failing);
  }
});

it('says what to do when the lock has no pytest, when the test lock is stale, and for a wrong flag', async () => {
  const a = await cli(['test', '--project', 'examples/services/service-a']);
  expect(a.code).toBe(1);
  expect(a.stderr).toMatch(/service-a\/pylock\.toml has no pytest for service-a.*\[dependency-groups\] test = \["pytest"\].*`uv lock` and `nx sync`/);
  expect(a.stderr).not.toMatch(/\n\s+at /);
  const lock = join(ws, 'examples', 'libs', 'greeting', 'pylock.test.toml');
  const good = await readFile(lock, 'utf8');
  try {
    await writeFile(lock, good.replace('version = "9.2.0"', 'version = "9.1.0"'));
    const stale = await cli(['test', '--project', 'examples/libs/greeting']);
    expect([stale.code, stale.stderr]).toEqual([1, expect.stringMatching(/pylock\.test\.toml is out of date: .*Run `nx sync`/)]);
  } finally {
    await writeFile(lock, good);
  }
  const usage = await cli(['test', '-k', 'x']);
  expect([usage.code, usage.stderr]).toEqual([2, expect.stringMatching(/does not take "-k"; pytest's own arguments go after `--`/)]);
  expect((await cli(['test', '--help'])).stdout).toMatch(/Usage: nx-pex test/);
});

it('holds its environment while pytest runs: a prune meanwhile leaves it, and one after takes it', async () => {
  const started = join(scratch, 'slow-test-started');
  const slow = join(ws, 'examples', 'libs', 'greeting', 'tests', 'test_slow_prune.py');
  await writeFile(slow, `import pathlib, time\n\ndef test_slow():\n    pathlib.Path(${JSON.stringify(started)}).write_text("1")\n    time.sleep(3)\n`);
  try {
    const running = cli(['test', '--project', 'examples/libs/greeting', '--', '-k', 'slow']);
    for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(started)).toBe(true);
    const prune = await cli(['cache', 'prune', '--max-size', '0']);
    expect(prune.code).toBe(0);
    const kept = await layersOfKind();
    expect([kept['test-venv']?.length ?? 0, kept['test-overlay']?.length ?? 0]).toEqual([1, 1]);
    expect((await running).code).toBe(0);
    // Nobody holds them now.
    expect((await cli(['cache', 'prune', '--max-size', '0'])).code).toBe(0);
    expect(await layersOfKind()).toEqual({});
  } finally {
    await rm(slow, { force: true });
  }
});
