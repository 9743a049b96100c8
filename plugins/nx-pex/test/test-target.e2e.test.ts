/**
 * End to end, with the real `nx` and real pytest: the example monorepo (greeting and service-b
 * have tests and a `test` dependency group) extended by the generators with lib-x (on greeting)
 * and lib-y (whose test group also holds six). `nx affected -t test` follows the per-project test
 * locks package by package and the sources through the graph; the cache holds passing runs only;
 * a failing test fails its own target with pytest's output; the JUnit reports list every test.
 * Wheels come from the local index on 127.0.0.1 (`tools/fixtures/fetch.py` fills it).
 */
import { existsSync } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexServer } from '../../../tools/index-server/src';
import { CLONE_SKIP, makeWorkspace, NX, nxOutcome, sh as runIn, startWorkspaceIndex } from './workspace-support';

const LOCKS = join(__dirname, 'fixtures', 'tests');
const SKIP = [...CLONE_SKIP, 'poetry-service', 'requirements-service'];
const TESTED = ['greeting', 'lib-x', 'lib-y', 'service-b'];

jest.setTimeout(600_000);

/** lib-x's tests of the distributions its test environment has: itself and its workspace dependency, as in a PEX. */
const METADATA_TESTS = `import json
from importlib.metadata import distribution, entry_points, requires, version

import greeting


def test_versions_of_itself_and_of_its_workspace_dependency() -> None:
    assert version("lib-x") == "0.1.0"
    assert version("greeting") == "0.1.0"


def test_requires_names_the_workspace_dependency() -> None:
    assert requires("lib-x") == ["greeting"]


def test_entry_point_of_the_dependency_loads_its_code() -> None:
    (plain,) = entry_points(group="greeting.styles")
    assert plain.name == "plain"
    assert plain.dist is not None and plain.dist.name == "greeting"
    assert plain.load()("x") == "Hello from greeting, x!"


def test_installed_as_editable_from_the_source_tree() -> None:
    direct = json.loads(distribution("greeting").read_text("direct_url.json") or "{}")
    assert direct["dir_info"] == {"editable": True}
    assert direct["url"].startswith("file://") and direct["url"].endswith("/examples/libs/greeting")
    assert distribution("greeting").read_text("top_level.txt") == "greeting\\n"
    assert greeting.__file__ is not None and greeting.__file__.endswith("/examples/libs/greeting/src/greeting/__init__.py")
`;

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;
let ws: string;

const sh = (cwd: string, cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runIn(cwd, cmd, args, { ...env, ...extraEnv });
const nx = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => sh(ws, NX, args, extraEnv);

/** `nx run <project>:test [<cache status>]` lines of a run: project → status ('' when it ran). */
function testStatus(log: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of log.matchAll(/(?:>|✔|✖)\s+nx run ([\w.-]+):test(?:[^\[\n]*?\[([^\]\n]+)\])?/g)) out[m[1]] = m[2] ?? '';
  return out;
}

const cached = (status: string | undefined) => status === 'local cache' || status === 'existing outputs match the cache, left as is';

async function commitAll(message: string): Promise<void> {
  await sh(ws, 'git', ['add', '-A']);
  await sh(ws, 'git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', message]);
}

async function affected(target: string): Promise<string[]> {
  const out = await nx(['show', 'projects', '--affected', '--base=HEAD', `--withTarget=${target}`, '--json']);
  return (JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)) as string[]).sort();
}

/** The test cases of a JUnit report, as `classname::name`. */
async function junitCases(projectRoot: string): Promise<string[]> {
  const xml = await readFile(join(ws, 'reports', projectRoot, 'junit.xml'), 'utf8');
  return [...xml.matchAll(/<testcase classname="([^"]+)" name="([^"]+)"/g)].map((m) => `${m[1]}::${m[2]}`).sort();
}

beforeAll(async () => {
  let base: NodeJS.ProcessEnv;
  ({ server, scratch, env: base } = await startWorkspaceIndex('nx-pex-tests-', 'pytest-9.2.0'));
  env = { ...base, PATH: (process.env.PATH ?? '').split(':').filter((d) => !existsSync(join(d, 'uv'))).join(':'), PYTEST_ADDOPTS: undefined };
  ws = await makeWorkspace(join(scratch, 'ws'), SKIP);
  await nx(['g', 'nx-pex:python-library', 'lib-x', '--dependencies=greeting', '--skipLock', '--no-interactive']);
  await nx(['g', 'nx-pex:python-library', 'lib-y', '--skipLock', '--no-interactive']);
  const libY = join(ws, 'examples/libs/lib-y');
  await writeFile(join(libY, 'pyproject.toml'), (await readFile(join(libY, 'pyproject.toml'), 'utf8')).replace('test = ["pytest>=8"]', 'test = ["pytest>=8", "six"]'));
  await writeFile(join(libY, 'tests', 'test_six.py'), 'import six\n\n\ndef test_six_is_there() -> None:\n    assert six.PY3\n');
  await writeFile(
    join(ws, 'examples/libs/lib-x/src/lib_x/__init__.py'),
    'from greeting import greet\n\n\ndef hello(name: str) -> str:\n    return f"Hello from lib-x, {name}!"\n\n\ndef greeting_of(name: str) -> str:\n    return greet(name)\n',
  );
  await writeFile(join(ws, 'examples/libs/lib-x/tests/test_uses_greeting.py'), 'from lib_x import greeting_of\n\n\ndef test_greeting_of() -> None:\n    assert greeting_of("x") == "Hello from greeting, x!"\n');
  // greeting declares an entry point; lib-x's tests read its own and greeting's installed metadata.
  const greetingToml = join(ws, 'examples/libs/greeting/pyproject.toml');
  await writeFile(greetingToml, (await readFile(greetingToml, 'utf8')).replace('[dependency-groups]', '[project.entry-points."greeting.styles"]\nplain = "greeting:greet"\n\n[dependency-groups]'));
  await writeFile(join(ws, 'examples/libs/lib-x/tests/test_metadata.py'), METADATA_TESTS);
  await cp(join(LOCKS, 'uv.lock'), join(ws, 'examples/uv.lock'));
  expect(await nx(['sync'])).toMatch(/synced successfully/);
  expect(await nx(['sync:check'])).toMatch(/up to date/);
  await sh(ws, 'git', ['init', '-q']);
  await commitAll('generated workspace');
  const projects = (await nx(['show', 'projects', '--withTarget=test'])).split('\n').filter((l) => /^[\w.-]+$/.test(l)).sort();
  expect(projects).toEqual(TESTED);
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('nx test in a generated workspace', () => {
  it('runs every project with tests with real pytest from its lock, each JUnit report listing every test, and a second run is all cache hits', async () => {
    const log = await nx(['run-many', '-t', 'test', '--output-style=static']);
    expect(testStatus(log)).toEqual(Object.fromEntries(TESTED.map((p) => [p, ''])));
    expect(log).toMatch(/platform linux -- Python 3\.\d+\.\d+, pytest-9\.2\.0/);
    // Projects with the same closure share a test environment: 4 projects, 3 closures.
    const made = [...log.matchAll(/test environment ([0-9a-f]{12}) made in the store/g)].map((m) => m[1]);
    const reused = [...log.matchAll(/test environment ([0-9a-f]{12}) reused from the store/g)].map((m) => m[1]);
    expect(new Set([...made, ...reused]).size).toBe(3);
    expect(made.length).toBe(new Set(made).size);
    expect(await junitCases('examples/libs/greeting')).toEqual([
      'tests.test_greeting::test_greet_keeps_the_name_as_given',
      'tests.test_greeting::test_greet_uses_the_packaged_template',
    ]);
    expect(await junitCases('examples/services/service-b')).toEqual(['tests.test_main::test_prints_count_mean_and_greeting', 'tests.test_main::test_refuses_a_word']);
    expect(await junitCases('examples/libs/lib-x')).toEqual([
      'tests.test_lib_x::test_hello',
      'tests.test_metadata::test_entry_point_of_the_dependency_loads_its_code',
      'tests.test_metadata::test_installed_as_editable_from_the_source_tree',
      'tests.test_metadata::test_requires_names_the_workspace_dependency',
      'tests.test_metadata::test_versions_of_itself_and_of_its_workspace_dependency',
      'tests.test_uses_greeting::test_greeting_of',
    ]);
    expect(await junitCases('examples/libs/lib-y')).toEqual(['tests.test_lib_y::test_hello', 'tests.test_six::test_six_is_there']);
    // Nothing in the user's tree but reports and pytest's own cache.
    expect(existsSync(join(ws, 'examples/libs/greeting/.venv'))).toBe(false);

    const again = testStatus(await nx(['run-many', '-t', 'test']));
    expect(Object.keys(again).sort()).toEqual(TESTED);
    for (const p of TESTED) expect([p, cached(again[p])]).toEqual([p, true]);
    // A cache hit puts the report back.
    await rm(join(ws, 'reports'), { recursive: true, force: true });
    expect(cached(testStatus(await nx(['test', 'greeting']))['greeting'])).toBe(true);
    expect(await junitCases('examples/libs/greeting')).toHaveLength(2);
  });

  it('passes arguments after -- and PYTEST_ADDOPTS to pytest, each a different cache entry', async () => {
    const log = await nx(['test', 'greeting', '--', '-k', 'keeps']);
    expect(log).toMatch(/1 passed, 1 deselected/);
    expect(await junitCases('examples/libs/greeting')).toEqual(['tests.test_greeting::test_greet_keeps_the_name_as_given']);
    const addopts = await nx(['test', 'greeting'], { PYTEST_ADDOPTS: '-k packaged' });
    expect(testStatus(addopts)['greeting']).toBe('');
    expect(addopts).toMatch(/1 passed, 1 deselected/);
    expect(await junitCases('examples/libs/greeting')).toEqual(['tests.test_greeting::test_greet_uses_the_packaged_template']);
    await nx(['test', 'greeting']);
  });

  it("after a source edit of a library, runs exactly it and its dependents' tests", async () => {
    const init = join(ws, 'examples/libs/greeting/src/greeting/__init__.py');
    await writeFile(init, `${await readFile(init, 'utf8')}\n\ndef shout(name: str) -> str:\n    return greet(name).upper()\n`);
    expect(await affected('test')).toEqual(['greeting', 'lib-x', 'service-b']);
    const status = testStatus(await nx(['affected', '-t', 'test', '--base=HEAD']));
    expect(status).toEqual({ greeting: '', 'lib-x': '', 'service-b': '' });
    await commitAll('greeting: shout');
  });

  it('after a lock bump of a test-only package and nx sync, runs exactly the tests of the project whose test group holds it, and no build is affected', async () => {
    await cp(join(LOCKS, 'uv.six-1.16.0.lock'), join(ws, 'examples/uv.lock'));
    const sync = await nxOutcome(ws, ['sync:check'], env);
    expect(sync.ok).toBe(false);
    expect((await nxOutcome(ws, ['test', 'lib-y', '--skip-nx-cache', '--skip-sync'], env)).log).toMatch(/pylock\.test\.toml is out of date: .*Run `nx sync`/);
    await nx(['sync']);
    const changed = (await sh(ws, 'git', ['status', '--porcelain'])).split('\n').filter(Boolean).map((l) => l.slice(3)).sort();
    // Only lib-y's test lock: every pylock.toml (what builds read) is byte-identical.
    expect(changed).toEqual(['examples/libs/lib-y/pylock.test.toml', 'examples/uv.lock']);
    expect(await affected('test')).toEqual(['lib-y']);
    expect(await affected('build')).toEqual([]);
    const log = await nx(['affected', '-t', 'test', '--base=HEAD']);
    expect(testStatus(log)).toEqual({ 'lib-y': '' });
    const all = testStatus(await nx(['run-many', '-t', 'test']));
    for (const p of TESTED) expect([p, cached(all[p])]).toEqual([p, true]);
    await commitAll('six 1.16.0');
  });

  it("fails a failing test's target alone, with pytest's output, and never caches it", async () => {
    const failing = join(ws, 'examples/libs/lib-x/tests/test_broken.py');
    await writeFile(failing, 'def test_broken() -> None:\n    assert 1 + 1 == 3, "arithmetic"\n');
    try {
      const { ok, log } = await nxOutcome(ws, ['run-many', '-t', 'test'], env);
      expect(ok).toBe(false);
      expect(log).toMatch(/FAILED tests\/test_broken\.py::test_broken - AssertionError: arithmetic/);
      expect(log).toMatch(/1 failed, 6 passed/);
      const status = testStatus(log);
      for (const p of ['greeting', 'lib-y', 'service-b']) expect([p, cached(status[p])]).toEqual([p, true]);
      expect(log).toMatch(/Failed tasks:\s*\n\s*- lib-x:test/);
      expect(await junitCases('examples/libs/lib-x')).toContain('tests.test_broken::test_broken');
      // Not cached: it runs (and fails) again.
      const again = await nxOutcome(ws, ['test', 'lib-x'], env);
      expect(again.ok).toBe(false);
      expect(testStatus(again.log)['lib-x']).toBe('');
    } finally {
      await rm(failing);
    }
  });

  it('runs a batch in one process, the projects of one closure sharing its environment', async () => {
    const log = await nx(['run-many', '-t', 'test', '--batch', '--skip-nx-cache', '--output-style=static']);
    for (const p of TESTED) expect(log).toMatch(new RegExp(`${p}: test environment [0-9a-f]{12} reused from the store`));
    expect(log).not.toMatch(/made in the store/);
    expect((log.match(/\d+ passed in/g) ?? []).length).toBe(TESTED.length);
  });
});
