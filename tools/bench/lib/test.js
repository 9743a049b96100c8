// @ts-check
'use strict';
/**
 * The `test` case: pytest run by nx-pex from each project's lock, against pytest run from a ready
 * venv and against `uv run --package X pytest`. A uv workspace of 50 libraries over 10 closures
 * (small pure-Python packages of the fixture wheels, pytest in each library's dev group), locked
 * by uv against a local index of those wheels.
 *
 *  - warm, one library: `nx-pex test` (the CLI) and `nx test lib-04 --skip-nx-cache` with the test
 *    environment in the store, against `.venv/bin/pytest` in the library (a venv uv synced for it);
 *    `nx test` also against Nx's floor, `nx run floor:echo` (an `nx:run-commands` echo in the same
 *    workspace), so that what nx-pex adds under Nx is the difference of the two less pytest's run;
 *  - 50 libraries: `nx run-many -t test --skip-nx-cache` (environments first made once per
 *    closure, then again with them ready; and with --batch), against `uv run --frozen --package X
 *    pytest` per library, one after another (uv's cache warm).
 */
const { existsSync } = require('node:fs');
const fs = require('node:fs/promises');
const path = require('node:path');
const { run } = require('./proc');
const { fmtMs } = require('./report');

const LIBRARIES = 50;
/** Third-party dependencies of the libraries, one set per closure (pytest and its own come on top). */
const CLOSURES = [[], ['six'], ['click'], ['idna'], ['anyio'], ['h11'], ['six', 'click'], ['uvicorn'], ['starlette'], ['annotated-types', 'six']];
const IMPORTS = { 'annotated-types': 'annotated_types' };

/** The uv binary: the repository's cached one, else one on PATH. */
function uvBinary(repo) {
  const cached = path.join(repo, '.cache', 'uv-venv', 'bin', 'uv');
  if (existsSync(cached)) return cached;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir && existsSync(path.join(dir, 'uv'))) return path.join(dir, 'uv');
  return undefined;
}

/** @param {string} dir @param {string} name @param {string[]} deps */
async function writeLibrary(dir, name, deps) {
  const pkg = name.replace(/-/g, '_');
  await fs.mkdir(path.join(dir, 'src', pkg), { recursive: true });
  await fs.mkdir(path.join(dir, 'tests'), { recursive: true });
  await fs.writeFile(
    path.join(dir, 'pyproject.toml'),
    [
      '[project]',
      `name = "${name}"`,
      'version = "0.1.0"',
      'requires-python = ">=3.11"',
      `dependencies = [${deps.map((d) => JSON.stringify(d)).join(', ')}]`,
      '',
      '',
      // uv's default group, so that `uv run --package X pytest` has pytest as nx-pex does.
      '[dependency-groups]',
      'dev = ["pytest"]',
      '',
      // Not built by uv (the local index has no build backend): pytest puts src/ on the path.
      '[tool.uv]',
      'package = false',
      '',
      '[tool.pytest.ini_options]',
      'pythonpath = ["src"]',
      '',
    ].join('\n'),
  );
  const imports = deps.map((d) => /** @type {Record<string, string>} */ (IMPORTS)[d] ?? d.replace(/-/g, '_'));
  await fs.writeFile(
    path.join(dir, 'src', pkg, '__init__.py'),
    [...imports.map((m) => `import ${m}`), '', '', 'def add(a: int, b: int) -> int:', '    return a + b', '', '', 'def uses() -> list[str]:', `    return ${JSON.stringify(imports)}`, ''].join('\n'),
  );
  const tests = [`from ${pkg} import add, uses`, ''];
  for (let i = 0; i < 10; i++) tests.push('', `def test_add_${i}() -> None:`, `    assert add(${i}, 1) == ${i + 1}`, '');
  tests.push('', 'def test_uses() -> None:', `    assert uses() == ${JSON.stringify(imports)}`, '');
  await fs.writeFile(path.join(dir, 'tests', `test_${pkg}.py`), tests.join('\n'));
}

/** The test environments among a store's layers (the others: the first-party overlays beside them). @param {string} layers */
async function testVenvCount(layers) {
  let n = 0;
  for (const key of await fs.readdir(layers)) {
    const record = await fs.readFile(path.join(layers, key, 'layer.json'), 'utf8').catch(() => '{}');
    if (JSON.parse(record).kind === 'test-venv') n++;
  }
  return n;
}

/**
 * @param {{ runs: number, warmup: boolean }} opts
 * @param {{ log: (line: string) => void, REPO: string, CACHE: string, CLI: string, NX: string, INDEX_SERVER: string, PYTHON: string,
 *   nxWorkspace: (dir: string, name: string) => Promise<void>, childEnv: (url: string, extra?: Record<string, string>) => NodeJS.ProcessEnv,
 *   measure: (tools: any[], runs: number, warmup: boolean) => Promise<Record<string, import('./report').Stat>> }} ctx
 */
async function benchTest(opts, ctx) {
  const { log, REPO, CACHE, CLI, NX, PYTHON } = ctx;
  const uv = uvBinary(REPO);
  if (!uv) throw new Error('the test case needs uv (for the lock and the comparison): pip install uv into .cache/uv-venv');
  const wheels = path.join(REPO, '.cache', 'wheels');
  if (!existsSync(path.join(wheels, 'pytest-9.2.0-py3-none-any.whl'))) throw new Error(`${wheels} lacks pytest: run python3 tools/fixtures/fetch.py`);
  const { startIndexServer } = require(ctx.INDEX_SERVER);
  const ws = path.join(CACHE, 'nx-test');
  await fs.rm(ws, { recursive: true, force: true });
  await ctx.nxWorkspace(ws, 'bench-nx-test');
  await fs.writeFile(
    path.join(ws, 'pyproject.toml'),
    '[tool.uv.workspace]\nmembers = ["libs/*"]\n\n[tool.uv]\nenvironments = ["sys_platform == \'linux\'"]\n',
  );
  // Nx's floor: a task that does nothing but echo, in the same workspace.
  await fs.mkdir(path.join(ws, 'floor'), { recursive: true });
  await fs.writeFile(
    path.join(ws, 'floor', 'project.json'),
    `${JSON.stringify({ name: 'floor', targets: { echo: { executor: 'nx:run-commands', options: { command: 'echo floor' }, cache: false } } }, null, 2)}\n`,
  );
  const names = [];
  for (let i = 0; i < LIBRARIES; i++) {
    const name = `lib-${String(i).padStart(2, '0')}`;
    names.push(name);
    await writeLibrary(path.join(ws, 'libs', name), name, CLOSURES[i % CLOSURES.length]);
  }
  const server = await startIndexServer({ dir: wheels });
  try {
    const store = path.join(CACHE, 'store-test');
    const uvEnv = { UV_INDEX_URL: server.url, UV_DEFAULT_INDEX: server.url, UV_CACHE_DIR: path.join(CACHE, 'uv-cache-test'), UV_PYTHON: PYTHON, UV_NO_PROGRESS: '1', UV_PYTHON_DOWNLOADS: 'never' };
    const env = ctx.childEnv(server.url, { NX_PEX_STORE: store, ...uvEnv });
    // Python writes byte code as it imports, as it does on a developer's machine (a ready
    // .venv has it after its first run; nx-pex's environments have it from the start).
    delete env.PYTHONDONTWRITEBYTECODE;
    log(`test: uv lock of ${LIBRARIES} libraries over ${CLOSURES.length} closures (local index), nx sync`);
    await run(uv, ['lock'], { cwd: ws, env });
    await run(NX, ['sync'], { cwd: ws, env });
    await fs.rm(store, { recursive: true, force: true });

    // One library, warm: the test environment in the store / a venv uv synced for it.
    const lib = 'lib-04';
    const libDir = path.join(ws, 'libs', lib);
    await run(uv, ['sync', '--frozen', '--package', lib], { cwd: ws, env });
    const pytest = path.join(ws, '.venv', 'bin', 'pytest');
    const first = await run(process.execPath, [CLI, 'test', '--project', libDir, '--python', PYTHON, '--store', store, '-q', '--', '-q'], { cwd: ws, env });
    log(`test: ${lib}'s test environment made in ${fmtMs(first.ms)}`);
    const passed = (/** @type {{ stdout: string }} */ r) => {
      if (!/11 passed/.test(r.stdout)) throw new Error(`expected 11 passed tests, got:\n${r.stdout.slice(-2000)}`);
    };
    const single = await ctx.measure(
      [
        { name: '.venv/bin/pytest', before: async () => {}, run: () => run(pytest, ['-q', '-p', 'no:cacheprovider'], { cwd: libDir, env }), check: passed },
        { name: 'nx-pex test', before: async () => {}, run: () => run(process.execPath, [CLI, 'test', '--project', libDir, '--python', PYTHON, '--store', store, '-q', '--', '-q', '-p', 'no:cacheprovider'], { cwd: ws, env }), check: passed },
        { name: 'nx test', before: async () => {}, run: () => run(NX, ['test', lib, '--skip-nx-cache', '--', '-q', '-p', 'no:cacheprovider'], { cwd: ws, env }), check: passed },
        { name: 'nx floor', before: async () => {}, run: () => run(NX, ['run', 'floor:echo', '--skip-nx-cache'], { cwd: ws, env }) },
      ],
      opts.runs,
      opts.warmup,
    );
    // Nx with nothing to do (a cache hit): its own cost per task.
    await run(NX, ['test', lib], { cwd: ws, env });
    const nxHit = await ctx.measure([{ name: 'nx test (cache hit)', before: async () => {}, run: () => run(NX, ['test', lib], { cwd: ws, env }) }], opts.runs, false);

    // 50 libraries: the wheels in the store (as in uv's cache), no test environment yet.
    await fs.rm(path.join(store, 'layers'), { recursive: true, force: true });
    await fs.rm(path.join(ws, '.nx'), { recursive: true, force: true });
    log(`test: nx run-many -t test over ${LIBRARIES} libraries, test environments made once per closure`);
    const manyFirst = await run(NX, ['run-many', '-t', 'test', '--skip-nx-cache'], { cwd: ws, env, timeoutMs: 20 * 60_000 });
    const venvs = await testVenvCount(path.join(store, 'layers'));
    log('test: nx run-many -t test again, environments ready');
    const manyWarm = await run(NX, ['run-many', '-t', 'test', '--skip-nx-cache'], { cwd: ws, env, timeoutMs: 20 * 60_000 });
    const manyBatch = await run(NX, ['run-many', '-t', 'test', '--skip-nx-cache', '--batch'], { cwd: ws, env, timeoutMs: 20 * 60_000 });
    log(`test: uv run --package X pytest for each of the ${LIBRARIES} libraries`);
    // uv's cache warm: one pass over the closures first.
    for (const name of names.slice(0, CLOSURES.length)) await run(uv, ['run', '--frozen', '--package', name, 'pytest', '-q', '-p', 'no:cacheprovider'], { cwd: path.join(ws, 'libs', name), env });
    const started = Date.now();
    for (const name of names) {
      const r = await run(uv, ['run', '--frozen', '--package', name, 'pytest', '-q', '-p', 'no:cacheprovider'], { cwd: path.join(ws, 'libs', name), env });
      passed(r);
    }
    const uvMs = Date.now() - started;
    return {
      libraries: LIBRARIES,
      closures: CLOSURES.length,
      testEnvironments: venvs,
      single,
      nxHit: nxHit['nx test (cache hit)'],
      firstEnvMs: Math.round(first.ms),
      many: { firstMs: Math.round(manyFirst.ms), warmMs: Math.round(manyWarm.ms), batchMs: Math.round(manyBatch.ms), uvRunMs: uvMs },
    };
  } finally {
    await server.close();
  }
}

/** Report lines and target checks of the test case. @param {any} t @param {(ms: number) => string} fmt */
function testReport(t, fmt) {
  const venv = t.single['.venv/bin/pytest'].median;
  const cli = t.single['nx-pex test'].median;
  const nx = t.single['nx test'].median;
  const floor = t.single['nx floor'].median;
  const underNx = nx - floor - venv;
  const lines = [
    `test, one library warm (median of runs): .venv/bin/pytest ${fmt(venv)}; nx-pex test ${fmt(cli)} (+${fmt(cli - venv)} over .venv/bin/pytest); ` +
      `nx test --skip-nx-cache ${fmt(nx)} against Nx's floor, nx run floor:echo (an nx:run-commands echo) ${fmt(floor)}: ` +
      `+${fmt(nx - floor)} over the floor, +${fmt(underNx)} over the floor and .venv/bin/pytest; nx test as a cache hit ${fmt(t.nxHit.median)}; ` +
      `the environment made once: ${fmt(t.firstEnvMs)}`,
    `test, ${t.libraries} libraries over ${t.closures} closures: nx run-many -t test ${fmt(t.many.firstMs)} making ${t.testEnvironments} environments, ` +
      `${fmt(t.many.warmMs)} with them ready, ${fmt(t.many.batchMs)} with --batch; uv run --package X pytest per library ${fmt(t.many.uvRunMs)} ` +
      `(${(t.many.uvRunMs / t.many.warmMs).toFixed(2)}× the nx run, ${(t.many.uvRunMs / t.many.firstMs).toFixed(2)}× with environments made)`,
  ];
  const checks = [
    { target: 'test warm: nx-pex test overhead over .venv/bin/pytest ≤ 0.3 s', measured: fmt(cli - venv), met: cli - venv <= 300 },
    { target: "test warm: nx test overhead over Nx's floor (nx:run-commands echo) and .venv/bin/pytest ≤ 0.3 s", measured: `${fmt(underNx)} (floor ${fmt(floor)})`, met: underNx <= 300 },
    { target: `test: ${t.libraries} libraries, nx run-many -t test --batch faster than uv run per project`, measured: `${fmt(t.many.batchMs)} vs ${fmt(t.many.uvRunMs)}`, met: t.many.batchMs < t.many.uvRunMs },
    { target: `test: ${t.libraries} libraries, nx run-many -t test (a task process per library) faster than uv run per project`, measured: `${fmt(t.many.warmMs)} vs ${fmt(t.many.uvRunMs)}`, met: t.many.warmMs < t.many.uvRunMs },
    { target: `test: ${t.libraries} libraries, making the ${t.closures} environments included, faster than uv run per project`, measured: `${fmt(t.many.firstMs)} vs ${fmt(t.many.uvRunMs)}`, met: t.many.firstMs < t.many.uvRunMs },
    { target: `test: environments made = closures (${t.closures})`, measured: String(t.testEnvironments), met: t.testEnvironments === t.closures },
  ];
  return { lines, checks };
}

module.exports = { benchTest, testReport };
