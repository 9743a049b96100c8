#!/usr/bin/env node
// @ts-check
'use strict';
/**
 * `npm run bench`: the same inputs built by the real pex and by nx-pex (its CLI, and `nx build`),
 * alternating run by run, with wheels served from a local index on 127.0.0.1.
 * Prints a table and writes dist/bench/results.json (and results.md).
 */
const { existsSync } = require('node:fs');
const fs = require('node:fs/promises');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { performance } = require('node:perf_hooks');
const { run } = require('./lib/proc');
const inputs = require('./lib/inputs');
const { stat, fmtMs, fmtRatio, fmtStat, textTable, markdownTable, summarizeProfile } = require('./lib/report');
const { benchNxPath, dirBytes, nxPathReport } = require('./lib/nxpath');
const { benchResolve, resolveReport } = require('./lib/resolve');
const { benchImage, imageReport } = require('./lib/image');
const { benchTest, testReport } = require('./lib/test');

const { REPO, CACHE, CASES, SCALE_CLOSURES } = inputs;
const OUT_DIR = path.join(REPO, 'dist', 'bench');
const CLI = path.join(REPO, 'plugins', 'nx-pex', 'lib', 'cli.js');
const NX = path.join(REPO, 'node_modules', '.bin', 'nx');
const INDEX_SERVER = path.join(REPO, 'tools', 'index-server', 'dist', 'index.js');
/**
 * The interpreter pex runs on (its virtualenv's python3); nx-pex targets the same one, given as
 * --python and as the plugin's `python` option, rather than whatever `python3` on PATH is (a
 * pyenv shim, say, that costs every run of it ~70 ms which pex never pays).
 */
const PYTHON = path.join(REPO, '.cache', 'pex-venv', 'bin', 'python3');
const ALL_CASES = ['small', 'web', 'data', 'big', 'scale', 'boot', 'nx', 'graph', 'resolve', 'image', 'test'];
const ALL_PHASES = ['cold', 'warm', 'edit', 'noop'];
const BOOT_CASES = ['web', 'data'];
const SCALE_SERVICES = 50;

const HELP = `Usage: npm run bench -- [options]

  --quick           1 run, no warm-up, cases small and web (and boot of web)
  --case LIST       comma-separated: ${ALL_CASES.join(',')} (default: all)
  --phase LIST      comma-separated: ${ALL_PHASES.join(',')} (default: all; resolve has cold and warm)
  --runs N          measured runs per tool (default 5, after one warm-up)
  --no-nx           skip the \`nx build\` rows
  --no-profile      skip the CPU profile of a warm nx-pex build per case
  -h, --help
`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      case: { type: 'string' },
      phase: { type: 'string' },
      runs: { type: 'string' },
      'no-nx': { type: 'boolean' },
      'no-profile': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const list = (/** @type {string | undefined} */ s, /** @type {string[]} */ all, /** @type {string} */ what) => {
    if (!s) return undefined;
    const xs = s.split(',').map((x) => x.trim()).filter(Boolean);
    for (const x of xs) if (!all.includes(x)) throw new Error(`unknown ${what} "${x}"; one of ${all.join(', ')}`);
    return xs;
  };
  const quick = !!values.quick;
  const cases = list(values.case, ALL_CASES, 'case') ?? (quick ? ['small', 'web', 'boot'] : ALL_CASES);
  const phases = list(values.phase, ALL_PHASES, 'phase') ?? ALL_PHASES;
  const runs = values.runs ? Number(values.runs) : quick ? 1 : 5;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer');
  // Boot is measured for web and data; a quick run boots only those of its cases (else web).
  const bootCases = !cases.includes('boot')
    ? []
    : !quick
      ? BOOT_CASES
      : BOOT_CASES.filter((c) => cases.includes(c)).length
        ? BOOT_CASES.filter((c) => cases.includes(c))
        : ['web'];
  return { quick, cases, phases, runs, bootCases, warmup: !quick, nx: !values['no-nx'], profile: !values['no-profile'] };
}

/** @param {string} line */
const log = (line) => process.stderr.write(`bench: ${line}\n`);
/** @param {string} p */
const rmrf = (p) => fs.rm(p, { recursive: true, force: true });

/** The environment of every measured process: the local index only, no pip configuration. */
function childEnv(/** @type {string} */ indexUrl, /** @type {Record<string, string>} */ extra = {}) {
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_INDEX_URL: indexUrl,
    PIP_EXTRA_INDEX_URL: '',
    PIP_FIND_LINKS: '',
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_SKIP_NX_CACHE: undefined,
    // Each workspace's cache in its own .nx/, which a phase deletes to empty it (Nx 24 otherwise
    // shares one cache per workspace identity under the user's home, across runs of the bench).
    NX_CACHE_DIRECTORY: '.nx/cache',
    NX_WORKSPACE_DATA_DIRECTORY: '.nx/workspace-data',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    CI: 'true',
    ...extra,
  };
  delete env.NX_SKIP_NX_CACHE;
  return env;
}

async function machine(pexBin) {
  const py = await run('python3', ['--version']);
  const pex = await run(pexBin, ['--version']);
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: (py.stdout || py.stderr).trim().replace(/^Python /, ''),
    pex: pex.stdout.trim(),
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function ensureBuilt() {
  if (existsSync(CLI) && existsSync(INDEX_SERVER)) return;
  log('building nx-pex (npm run build)');
  await run('npm', ['run', 'build'], { cwd: REPO });
}

/**
 * A generated Nx workspace at `dir` using this repository's node_modules (and so its nx-pex). Its
 * package.json and package-lock.json are those of a workspace that installed nx-pex from a
 * registry, so that Nx sees nx-pex as an external package (the plugin hashes it as one).
 */
async function nxWorkspace(dir, name) {
  await fs.mkdir(dir, { recursive: true });
  const version = JSON.parse(await fs.readFile(path.join(REPO, 'plugins', 'nx-pex', 'package.json'), 'utf8')).version;
  const devDependencies = { 'nx-pex': version };
  await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0', private: true, devDependencies }, null, 2) + '\n');
  const lock = {
    name,
    version: '0.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name, version: '0.0.0', devDependencies }, 'node_modules/nx-pex': { version, dev: true } },
  };
  await fs.writeFile(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');
  await fs.writeFile(path.join(dir, 'nx.json'), JSON.stringify({ plugins: [{ plugin: 'nx-pex', options: { python: PYTHON } }] }, null, 2) + '\n');
  const nm = path.join(dir, 'node_modules');
  if (!existsSync(nm)) await fs.symlink(path.join(REPO, 'node_modules'), nm, 'dir');
}

/**
 * Node arguments of a quiet nx-pex CLI build of `projectDir` with its uv.lock.
 * @param {string} projectDir @param {string} out @param {string} store
 */
function cliBuildArgs(projectDir, out, store) {
  return [CLI, 'build', '--project', projectDir, '--lock', path.join(projectDir, 'uv.lock'), '-o', out, '--store', store, '--python', PYTHON, '-q'];
}

/**
 * @typedef {{ name: string, before: () => Promise<unknown>, run: () => Promise<{ ms: number, stdout: string, stderr: string }>, check?: (r: { stdout: string, stderr: string }) => unknown }} Tool
 */

/**
 * Warm-up (one untimed run of each tool), then `runs` timed runs of each, rotating the order of
 * the tools from run to run.
 * @param {Tool[]} tools @param {number} runs @param {boolean} warmup
 */
async function measure(tools, runs, warmup) {
  /** @type {Record<string, number[]>} */
  const samples = Object.fromEntries(tools.map((t) => [t.name, []]));
  if (warmup) {
    for (const t of tools) {
      await t.before();
      await t.check?.(await t.run());
    }
  }
  for (let i = 0; i < runs; i++) {
    const order = tools.map((_, k) => tools[(k + i) % tools.length]);
    for (const t of order) {
      await t.before();
      const r = await t.run();
      await t.check?.(r);
      samples[t.name].push(r.ms);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, stat(xs)]));
}

/** @typedef {{ case: string, phase: string, tools: Record<string, import('./lib/report').Stat>, ratio: Record<string, number>, floor?: import('./lib/report').Stat, outputBytes?: number, note?: string }} Row */

async function benchCase(name, opts, ctx) {
  const { startIndexServer } = require(INDEX_SERVER);
  const spec = CASES[name];
  const project = `bench-${name}`;
  const pkg = inputs.moduleName(project);
  const root = path.join(CACHE, 'cases', name);
  const wheelsDir = path.join(root, 'wheels');
  await inputs.downloadOnce(wheelsDir, spec.requirements, ctx.pexWheel, log);
  const wheels = await inputs.listWheels(wheelsDir);
  const wheelBytes = wheels.reduce((n, w) => n + w.size, 0);
  log(`${name}: ${wheels.length} wheels, ${(wheelBytes / 1e6).toFixed(1)} MB`);

  const server = await startIndexServer({ dir: wheelsDir });
  /** @type {Row[]} */
  const rows = [];
  try {
    await fetch(`${server.url}/`); // hashes the served files once, before anything is timed
    const env = childEnv(server.url);
    const projectDir = path.join(root, 'project');
    await rmrf(projectDir);
    await inputs.writeProject(projectDir, project, spec.requirements, spec.imports, spec.body);
    const lock = inputs.lockText([{ name: project, editable: '.', requirements: spec.requirements, wheels }], server.url);
    await fs.writeFile(path.join(projectDir, 'uv.lock'), lock);

    const out = path.join(CACHE, 'out', name);
    await fs.mkdir(out, { recursive: true });
    const pexOut = path.join(out, 'pex.pex');
    const cliOut = path.join(out, 'nx-pex.pex');
    const pexRoot = path.join(CACHE, 'pex-root');
    const cliStore = path.join(CACHE, 'store-cli');
    const nxStore = path.join(CACHE, 'store-nx');

    const ws = path.join(CACHE, `nx-${name}`);
    const wsProject = path.join(ws, 'apps', name);
    const nxOut = path.join(ws, 'dist', 'apps', name, `${project}.pex`);
    if (opts.nx) {
      await rmrf(ws);
      await nxWorkspace(ws, `bench-nx-${name}`);
      await fs.cp(projectDir, wsProject, { recursive: true });
      // The project's own pylock.toml, as a user's CI runs nx sync (or has it committed).
      await run(NX, ['sync'], { cwd: ws, env });
    }

    let edits = 0;
    /**
     * What every tool does before a run: cold empties its caches, cold and warm remove its
     * output, edit changes the sources it builds from.
     * @param {string} phase @param {string[]} caches @param {string} output @param {string} sources
     */
    const prepare = async (phase, caches, output, sources) => {
      if (phase === 'cold') await Promise.all(caches.map(rmrf));
      if (phase === 'cold' || phase === 'warm') await rmrf(output);
      if (phase === 'edit') await inputs.writeEdited(sources, project, ++edits);
    };
    const pexTool = (/** @type {string} */ phase) => ({
      name: 'pex',
      before: () => prepare(phase, [pexRoot], pexOut, projectDir),
      run: () =>
        run(
          ctx.pexBin,
          [
            '--no-pre-install-wheels',
            '--no-pypi',
            '--index-url',
            server.url,
            ...spec.requirements,
            '-D',
            path.join(projectDir, 'src'),
            '-e',
            `${pkg}.main:main`,
            '-o',
            pexOut,
          ],
          { env: { ...env, PEX_ROOT: pexRoot } },
        ),
    });
    const cliTool = (/** @type {string} */ phase) => ({
      name: 'nx-pex',
      before: () => prepare(phase, [cliStore], cliOut, projectDir),
      run: () => run(process.execPath, cliBuildArgs(projectDir, cliOut, cliStore), { env }),
    });
    const nxEnv = { ...env, NX_PEX_STORE: nxStore };
    const nxTool = (/** @type {string} */ phase) => ({
      name: 'nx',
      before: () => prepare(phase, [nxStore, path.join(ws, '.nx')], path.join(ws, 'dist'), wsProject),
      run: () => run(NX, ['build', project, ...(phase === 'cold' || phase === 'warm' ? ['--skip-nx-cache'] : [])], { cwd: ws, env: nxEnv }),
      check: (/** @type {{ stdout: string, stderr: string }} */ r) => {
        const text = r.stdout + r.stderr;
        const hit = /existing outputs match the cache|\[local cache\]/.test(text);
        if (phase === 'noop' && !hit) throw new Error(`nx build ${project} was not a cache hit in the noop phase:\n${text.slice(-2000)}`);
        if (phase !== 'noop' && hit) throw new Error(`nx build ${project} came from the cache in the ${phase} phase:\n${text.slice(-2000)}`);
        if (!existsSync(nxOut)) throw new Error(`nx build ${project} did not write ${nxOut}`);
      },
    });

    /** @type {Record<string, number>} */
    const pexMedian = {};
    for (const phase of opts.phases) {
      /** @type {Tool[]} */
      const tools = phase === 'noop' ? [] : [pexTool(phase), cliTool(phase)];
      if (opts.nx) tools.push(nxTool(phase));
      if (!tools.length) continue;
      log(`${name} ${phase}: ${tools.map((t) => t.name).join(', ')} × ${opts.runs}${opts.warmup ? ' after a warm-up' : ''}`);
      // A no-op needs the current sources' build in the Nx cache (--skip-nx-cache builds do not store one).
      if (phase === 'noop') await run(NX, ['build', project], { cwd: ws, env: nxEnv });
      const t0 = performance.now();
      const stats = await measure(tools, opts.runs, opts.warmup);
      if (stats.pex) pexMedian[phase] = stats.pex.median;
      const base = stats.pex?.median ?? pexMedian.warm;
      /** @type {Row} */
      const row = { case: name, phase, tools: stats, ratio: {} };
      if (base !== undefined) {
        if (stats['nx-pex']) row.ratio['pex/nx-pex'] = base / stats['nx-pex'].median;
        if (stats.nx) row.ratio['pex/nx'] = base / stats.nx.median;
        if (phase === 'noop') row.note = "pex has no cache of outputs: the ratio is against pex's warm build";
      }
      const built = existsSync(cliOut) ? cliOut : existsSync(nxOut) ? nxOut : undefined;
      if (built) {
        row.outputBytes = (await fs.stat(built)).size;
        if (phase !== 'noop') row.floor = await floor(built, opts);
      }
      rows.push(row);
      log(`${name} ${phase}: ${Object.entries(stats).map(([k, s]) => `${k} ${fmtMs(s.median)}`).join(', ')} (${fmtMs(performance.now() - t0)} in all)`);
    }

    if (opts.profile && opts.phases.includes('warm')) ctx.profiles[name] = await profileWarm(name, projectDir, cliOut, cliStore, env);

    const boot = opts.bootCases.includes(name);
    if (boot || name === 'small') {
      // Both tools must have built the same program: build both from the same sources, run each
      // once and compare what it prints.
      await pexTool('warm').run();
      await cliTool('warm').run();
      const bootRoot = path.join(CACHE, 'boot-root');
      await rmrf(bootRoot);
      const a = await run(pexOut, [], { env: { ...env, PEX_ROOT: bootRoot } });
      const b = await run(cliOut, [], { env: { ...env, PEX_ROOT: bootRoot } });
      if (a.stdout !== b.stdout) throw new Error(`${name}: pex's PEX printed ${a.stdout.trim()} but nx-pex's printed ${b.stdout.trim()}`);
      log(`${name}: both PEX files print ${b.stdout.trim()}`);
      if (boot) rows.push(...(await bootRows(name, { pex: pexOut, 'nx-pex': cliOut }, env, opts)));
    }
  } finally {
    await server.close();
  }
  return rows;
}

/** The time `cp` takes to copy the output's bytes: what any build must at least spend writing it. */
async function floor(file, opts) {
  const dest = path.join(CACHE, 'floor.pex');
  const ms = [];
  for (let i = 0; i < Math.max(opts.runs, 3); i++) {
    await rmrf(dest);
    ms.push((await run('cp', [file, dest])).ms);
  }
  await rmrf(dest);
  return stat(ms);
}

/** First run (empty PEX_ROOT: the wheels get installed) and second run of each tool's PEX. */
async function bootRows(name, pexes, env, opts) {
  /** @type {Record<string, number[]>} */
  const first = {};
  /** @type {Record<string, number[]>} */
  const second = {};
  const tools = Object.keys(pexes);
  log(`${name} boot: ${tools.join(', ')} × ${opts.runs}`);
  for (let i = -1; i < opts.runs; i++) {
    if (i < 0 && !opts.warmup) continue;
    const order = tools.map((_, k) => tools[(k + Math.max(i, 0)) % tools.length]);
    for (const t of order) {
      const root = path.join(CACHE, `boot-root-${t}`);
      await rmrf(root);
      const e = { ...env, PEX_ROOT: root };
      const a = await run(pexes[t], [], { env: e });
      const b = await run(pexes[t], [], { env: e });
      if (i < 0) continue;
      (first[t] ??= []).push(a.ms);
      (second[t] ??= []).push(b.ms);
    }
  }
  /** @type {Row[]} */
  const rows = [];
  for (const [phase, samples] of [
    ['boot-first', first],
    ['boot-second', second],
  ]) {
    const tools = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, stat(xs)]));
    rows.push({ case: name, phase: /** @type {string} */ (phase), tools, ratio: { 'pex/nx-pex': tools.pex.median / tools['nx-pex'].median } });
  }
  return rows;
}

/** One warm nx-pex CLI build under `node --cpu-prof`, summarised. */
async function profileWarm(name, projectDir, cliOut, store, env) {
  const dir = path.join(OUT_DIR, 'profiles', name);
  await rmrf(dir);
  await rmrf(cliOut);
  const r = await run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, ...cliBuildArgs(projectDir, cliOut, store)], { env });
  const file = (await fs.readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return undefined;
  const summary = await summarizeProfile(path.join(dir, file), REPO);
  // Node's own start-up, before the profiler starts, for comparison.
  const bare = [];
  for (let i = 0; i < 3; i++) bare.push((await run(process.execPath, ['-e', '0'])).ms);
  return { wallMs: Math.round(r.ms), nodeStartupMs: stat(bare).median, file: path.relative(REPO, path.join(dir, file)), ...summary };
}

/** 50 services over 10 closures in one uv workspace: `nx run-many -t build` from nothing. */
async function benchScale(opts, ctx) {
  const { startIndexServer } = require(INDEX_SERVER);
  const wheelsDir = path.join(CACHE, 'scale', 'wheels');
  const union = [...new Set(SCALE_CLOSURES.flat())].sort();
  await inputs.downloadOnce(wheelsDir, union, ctx.pexWheel, log);
  const wheels = await inputs.listWheels(wheelsDir);
  const sets = await inputs.resolveClosures(wheelsDir, SCALE_CLOSURES, wheels);
  /** @type {Map<string, number>} */
  const unique = new Map();
  for (const set of sets) for (const w of set) unique.set(w.sha256, w.size);
  // The pex runtime wheel is fetched once too, unless the nx-pex package carries it (then never).
  const shipped = existsSync(path.join(REPO, 'plugins', 'nx-pex', 'pex', path.basename(ctx.pexWheel)));
  const pexWheelBytes = shipped ? 0 : (await fs.stat(ctx.pexWheel)).size;
  const idealBytes = [...unique.values()].reduce((a, b) => a + b, 0) + pexWheelBytes;
  const sumOfClosures = sets.reduce((n, set) => n + set.reduce((m, w) => m + w.size, 0), 0);

  const ws = path.join(CACHE, 'nx-scale');
  await rmrf(ws);
  await nxWorkspace(ws, 'bench-nx-scale');
  await fs.writeFile(path.join(ws, 'pyproject.toml'), '[tool.uv.workspace]\nmembers = ["services/*"]\n');
  const importName = (/** @type {string} */ r) => ({ pyyaml: 'yaml' })[r] ?? inputs.moduleName(r);
  const members = [];
  for (let i = 0; i < SCALE_SERVICES; i++) {
    const name = `svc-${String(i).padStart(2, '0')}`;
    const reqs = SCALE_CLOSURES[i % SCALE_CLOSURES.length];
    await inputs.writeProject(
      path.join(ws, 'services', name),
      name,
      reqs,
      reqs.map(importName),
      `    print(json.dumps({"service": "${name}", "edited": edited.VALUE}))`,
    );
    members.push({ name, editable: `services/${name}`, requirements: reqs, wheels: sets[i % sets.length] });
  }
  const server = await startIndexServer({ dir: wheelsDir });
  try {
    await fetch(`${server.url}/`);
    await fs.writeFile(path.join(ws, 'uv.lock'), inputs.lockText(members, server.url));
    const store = path.join(CACHE, 'store-scale');
    const env = childEnv(server.url, { NX_PEX_STORE: store });
    await run(NX, ['sync'], { cwd: ws, env });
    await Promise.all([rmrf(store), rmrf(path.join(ws, '.nx')), rmrf(path.join(ws, 'dist'))]);
    server.requests.length = 0;
    log(`scale: nx run-many -t build over ${SCALE_SERVICES} services, ${sets.length} closures, empty Nx cache and store`);
    const cold = await run(NX, ['run-many', '-t', 'build'], { cwd: ws, env, timeoutMs: 20 * 60_000 });
    const wheelRequests = server.requests.filter((r) => r.path.startsWith('/files/') && r.path.endsWith('.whl'));
    const fetchedBytes = wheelRequests.reduce((n, r) => n + r.bytes, 0);
    const pageBytes = server.requests.filter((r) => !wheelRequests.includes(r)).reduce((n, r) => n + r.bytes, 0);
    let built = 0;
    let outputBytes = 0;
    for (const { name } of members) {
      const f = path.join(ws, 'dist', 'services', name, `${name}.pex`);
      if (existsSync(f)) {
        built++;
        outputBytes += (await fs.stat(f)).size;
      }
    }
    if (built !== SCALE_SERVICES) throw new Error(`scale: only ${built} of ${SCALE_SERVICES} PEX files were built`);
    const cpFloor = await (async () => {
      // Copying every output once: the floor for writing them.
      const dest = path.join(CACHE, 'scale-floor');
      await rmrf(dest);
      const r = await run('cp', ['-r', path.join(ws, 'dist'), dest]);
      await rmrf(dest);
      return r.ms;
    })();
    log('scale: nx run-many -t build again (every target a cache hit)');
    const noop = await run(NX, ['run-many', '-t', 'build'], { cwd: ws, env, timeoutMs: 10 * 60_000 });
    const layers = await benchScaleLayers(ws, env, store, members);
    const layersOnly = await benchScaleLayersOnly(ws, env, members, 'full-pex = false\n');
    const layersOnlyPacked = await benchScaleLayersOnly(ws, env, members, 'layout = "packed"\n');
    return {
      services: SCALE_SERVICES,
      closures: sets.length,
      coldMs: Math.round(cold.ms),
      noopMs: Math.round(noop.ms),
      perServiceMs: Math.round(cold.ms / SCALE_SERVICES),
      outputBytes,
      cpFloorMs: Math.round(cpFloor),
      wheelRequests: wheelRequests.length,
      fetchedBytes,
      pageRequests: server.requests.length - wheelRequests.length,
      pageBytes,
      uniqueWheelBytes: idealBytes,
      sumOfClosureBytes: sumOfClosures + SCALE_CLOSURES.length * pexWheelBytes,
      bytesRatio: fetchedBytes / idealBytes,
      layers,
      layersOnly: { ...layersOnly, fullPexBytes: outputBytes, writtenRatio: layersOnly.writtenBytes / outputBytes },
      layersOnlyPacked: { ...layersOnlyPacked, fullPexBytes: outputBytes, writtenRatio: layersOnlyPacked.writtenBytes / outputBytes },
    };
  } finally {
    await server.close();
  }
}

/**
 * The scale workspace again with `layers = true` in every service (wheels in the store, no
 * layers yet): time, bytes written to dist/ (hard links to the store write none), and the deps
 * layers written (one per closure is the ideal).
 * @param {string} ws @param {NodeJS.ProcessEnv} env @param {string} store @param {Array<{ name: string }>} members
 */
async function benchScaleLayers(ws, env, store, members) {
  for (const { name } of members) {
    const file = path.join(ws, 'services', name, 'pyproject.toml');
    await fs.appendFile(file, '\n[tool.nx-pex]\nlayers = true\n');
  }
  await rmrf(path.join(ws, 'dist'));
  log(`scale: layers = true in all ${members.length} services, nx run-many -t build (wheels in the store, no layers)`);
  const r = await run(NX, ['run-many', '-t', 'build'], { cwd: ws, env, timeoutMs: 20 * 60_000 });
  // A file linked from the store (nlink > 1) was written once, into the store, if at all.
  const dist = dirBytes(path.join(ws, 'dist'));
  const depsInodes = new Set();
  for (const { name } of members) {
    const f = path.join(ws, 'dist', 'services', name, 'layers', 'deps.pex');
    if (!existsSync(f)) throw new Error(`scale layers: ${f} was not written`);
    depsInodes.add((await fs.stat(f)).ino);
  }
  const storeLayers = (await fs.readdir(path.join(store, 'layers')).catch(() => [])).filter((n) => /^[0-9a-f]{64}$/.test(n));
  let layerBytes = 0;
  for (const key of storeLayers) {
    const st = await fs.stat(path.join(store, 'layers', key, 'deps.pex')).catch(() => undefined);
    layerBytes += st ? st.size : 0;
  }
  return {
    ms: Math.round(r.ms),
    distBytes: dist.written + dist.linked,
    writtenBytes: dist.written,
    depsLayersWritten: storeLayers.length,
    depsLayerBytes: layerBytes,
    distinctDepsFiles: depsInodes.size,
  };
}

/**
 * The scale workspace once more with `setting` added to every [tool.nx-pex] (first `full-pex =
 * false`: layers only, the deps layers in the store already; then a packed layout too): what the
 * build writes to dist/ against the full PEX files of the first build.
 * @param {string} ws @param {NodeJS.ProcessEnv} env @param {Array<{ name: string }>} members @param {string} setting
 */
async function benchScaleLayersOnly(ws, env, members, setting) {
  for (const { name } of members) {
    // [tool.nx-pex] is the last table of each pyproject.toml (benchScaleLayers added it).
    await fs.appendFile(path.join(ws, 'services', name, 'pyproject.toml'), setting);
  }
  await rmrf(path.join(ws, 'dist'));
  log(`scale: ${setting.trim()} in all ${members.length} services (layers only), nx run-many -t build`);
  const r = await run(NX, ['run-many', '-t', 'build'], { cwd: ws, env, timeoutMs: 20 * 60_000 });
  for (const { name } of members) {
    if (existsSync(path.join(ws, 'dist', 'services', name, `${name}.pex`))) throw new Error(`scale layers only: ${name}.pex was written`);
    if (!existsSync(path.join(ws, 'dist', 'services', name, 'layers', `${name}.pex`))) throw new Error(`scale layers only: layers/${name}.pex is missing`);
  }
  const { written, linked } = dirBytes(path.join(ws, 'dist'));
  return { ms: Math.round(r.ms), distBytes: written + linked, writtenBytes: written };
}

/** @param {Row[]} rows @param {any} scale */
function targets(rows, scale) {
  const out = [];
  const find = (/** @type {string} */ c, /** @type {string} */ p) => rows.find((r) => r.case === c && r.phase === p);
  for (const r of rows) {
    const cli = r.tools['nx-pex'];
    const ratio = r.ratio['pex/nx-pex'];
    if (!cli || ratio === undefined) continue;
    if (r.phase === 'warm' || r.phase === 'edit') {
      out.push({ target: `${r.case} ${r.phase}: nx-pex ≥ 20× faster than pex`, measured: fmtRatio(ratio), met: ratio >= 20 });
      if (r.floor) {
        const f = cli.median / r.floor.median;
        out.push({ target: `${r.case} ${r.phase}: nx-pex within 3× of cp`, measured: `${fmtRatio(f)} (${fmtMs(cli.median)} vs ${fmtMs(r.floor.median)})`, met: f <= 3 });
      }
    }
    if (r.phase === 'cold') out.push({ target: `${r.case} cold: nx-pex ≥ 3× faster than pex`, measured: fmtRatio(ratio), met: ratio >= 3 });
    if (r.phase === 'boot-first' || r.phase === 'boot-second') {
      // Same runtime in both files, so anything within 10% is noise.
      out.push({ target: `${r.case} ${r.phase}: nx-pex's PEX no slower than pex's`, measured: `${fmtMs(cli.median)} vs ${fmtMs(r.tools.pex.median)}`, met: ratio >= 0.9 });
    }
  }
  const bigWarm = find('big', 'warm');
  if (bigWarm?.tools['nx-pex']) {
    const ms = bigWarm.tools['nx-pex'].median;
    out.push({ target: 'big warm: nx-pex under 1 s', measured: fmtMs(ms), met: ms < 1000 });
  }
  if (scale) {
    out.push({ target: 'scale: bytes fetched / unique wheel bytes = 1.0', measured: scale.bytesRatio.toFixed(3), met: Math.abs(scale.bytesRatio - 1) < 0.0005 });
    out.push({ target: `scale layers: deps layers written = closures (${scale.closures})`, measured: String(scale.layers.depsLayersWritten), met: scale.layers.depsLayersWritten === scale.closures });
    for (const [what, r] of /** @type {const} */ ([['zipapp', scale.layersOnly], ['packed', scale.layersOnlyPacked]])) {
      out.push({ target: `scale layers only (${what}): bytes written to dist/ ≤ 10% of the full PEX files`, measured: `${(r.writtenRatio * 100).toFixed(2)}%`, met: r.writtenRatio <= 0.1 });
    }
  }
  return out;
}

function tableRows(/** @type {Row[]} */ rows) {
  return rows.map((r) => {
    const cli = r.tools['nx-pex'];
    return [
      r.case,
      r.phase,
      fmtStat(r.tools.pex),
      fmtStat(cli),
      fmtRatio(r.ratio['pex/nx-pex']),
      fmtStat(r.tools.nx),
      fmtRatio(r.ratio['pex/nx']),
      r.floor ? fmtMs(r.floor.median) : '',
      r.floor && cli ? fmtRatio(cli.median / r.floor.median) : '',
      r.outputBytes ? (r.outputBytes / 1e6).toFixed(1) : '',
    ];
  });
}
const HEADER = ['case', 'phase', 'pex', 'nx-pex CLI', 'pex/CLI', 'nx build', 'pex/nx', 'cp floor', 'CLI/floor', 'PEX MB'];

async function main() {
  const opts = options();
  const started = performance.now();
  await ensureBuilt();
  await fs.mkdir(CACHE, { recursive: true });
  const { pexBin, pexWheel, pexVersion } = await inputs.ensurePex(log);
  const ctx = { pexBin, pexWheel, profiles: /** @type {Record<string, any>} */ ({}) };
  const info = await machine(pexBin);
  log(`${info.cores} cores, ${info.memoryGB} GB, Node ${info.node}, Python ${info.python}, pex ${pexVersion}; load ${info.loadavgAtStart.join(' ')}`);

  /** @type {Row[]} */
  const rows = [];
  for (const name of ['small', 'web', 'data', 'big']) {
    const wanted = opts.cases.includes(name) || opts.bootCases.includes(name);
    if (!wanted) continue;
    const caseOpts = opts.cases.includes(name) ? opts : { ...opts, phases: [], nx: false };
    rows.push(...(await benchCase(name, caseOpts, ctx)));
  }
  const scale = opts.cases.includes('scale') ? await benchScale(opts, ctx) : undefined;
  const layersSupported = (await fs.readFile(path.join(REPO, 'plugins', 'nx-pex', 'schemas', 'build.json'), 'utf8')).includes('"layers"');
  const nxPath = opts.cases.includes('nx')
    ? await benchNxPath({ runs: opts.runs, quick: opts.quick, nxSizes: opts.quick ? [50] : [50, 200] }, ctx, {
        log,
        NX,
        INDEX_SERVER,
        PYTHON,
        nxWorkspace,
        childEnv,
        layersSupported,
      })
    : undefined;
  const nxReport = nxPath ? nxPathReport(nxPath, fmtMs) : undefined;
  // Graph creation and the sync generator over generated workspaces of 100 and 300 Python projects, beside Nx's floor.
  const graphBench = require('./graph');
  const graph = opts.cases.includes('graph') ? await graphBench.benchGraph({ sizes: opts.quick ? [100] : [100, 300], runs: opts.quick ? 1 : 3, log }) : undefined;
  // Requirement sets resolved by nx-pex lock, pip and uv from one local index of recorded metadata.
  const resolved = opts.cases.includes('resolve') ? await benchResolve(opts, { log, PYTHON, childEnv, measure }) : undefined;
  const resolveText = resolved ? resolveReport(resolved) : undefined;
  // Images written by nx-pex and pushed, against docker build of the generated context.
  const imaged = opts.cases.includes('image') ? await benchImage(opts, ctx, { log, CLI, INDEX_SERVER, PYTHON, childEnv }) : undefined;
  const imageText = imageReport(imaged);

  // pytest from each project's lock against a ready venv and against uv run, 50 libraries over 10 closures.
  const tested = opts.cases.includes('test')
    ? await benchTest(opts, { log, REPO, CACHE, CLI, NX, INDEX_SERVER, PYTHON, nxWorkspace, childEnv, measure })
    : undefined;
  const testText = tested ? testReport(tested, fmtMs) : undefined;

  const checks = [...targets(rows, scale), ...(nxReport?.checks ?? []), ...(graph ?? []).flatMap(graphBench.graphTargets), ...(resolveText?.checks ?? []), ...imageText.checks, ...(testText?.checks ?? [])];
  const durationMs = performance.now() - started;
  const loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const date = new Date().toISOString();

  const text = [
    '',
    ...(rows.length ? [textTable(HEADER, tableRows(rows)), ''] : []),
    ...(scale
      ? [
          `scale: ${scale.services} services over ${scale.closures} closures, nx run-many -t build from nothing: ${fmtMs(scale.coldMs)} ` +
            `(${fmtMs(scale.perServiceMs)} per service; cp of all outputs ${fmtMs(scale.cpFloorMs)}); again, all cache hits: ${fmtMs(scale.noopMs)}`,
          `scale: wheel bytes fetched ${(scale.fetchedBytes / 1e6).toFixed(1)} MB in ${scale.wheelRequests} requests / unique wheel bytes ${(scale.uniqueWheelBytes / 1e6).toFixed(1)} MB = ${scale.bytesRatio.toFixed(3)}` +
            ` (the closures add up to ${(scale.sumOfClosureBytes / 1e6).toFixed(1)} MB; pages: ${scale.pageRequests} requests, ${(scale.pageBytes / 1e3).toFixed(1)} kB)`,
          `scale layers: layers = true, nx run-many -t build: ${fmtMs(scale.layers.ms)}; deps layers written ${scale.layers.depsLayersWritten} ` +
            `(${(scale.layers.depsLayerBytes / 1e6).toFixed(1)} MB, into the store; ideal ${scale.closures}), distinct layers/deps.pex files in dist ${scale.layers.distinctDepsFiles}; ` +
            `dist holds ${(scale.layers.distBytes / 1e6).toFixed(1)} MB of which ${(scale.layers.writtenBytes / 1e6).toFixed(1)} MB written (the rest hard links to the store)`,
          ...[['full-pex = false', scale.layersOnly], ['full-pex = false, layout = "packed"', scale.layersOnlyPacked]].map(
            ([what, r]) =>
              `scale layers only: ${what}, nx run-many -t build: ${fmtMs(r.ms)}; dist holds ${(r.distBytes / 1e6).toFixed(1)} MB ` +
              `of which ${(r.writtenBytes / 1e6).toFixed(2)} MB written = ${(r.writtenRatio * 100).toFixed(2)}% of the ${(r.fullPexBytes / 1e6).toFixed(1)} MB of full PEX files`,
          ),
          '',
        ]
      : []),
    ...(nxReport ? [...nxReport.lines, ''] : []),
    ...(graph ? [...graphBench.describeGraph(graph), ''] : []),
    ...(resolveText ? [...resolveText.lines, ''] : []),
    ...(imageText.lines.length ? [...imageText.lines, ''] : []),
    ...(testText ? [...testText.lines, ''] : []),
    'targets:',
    ...checks.map((c) => `  ${c.met ? 'met   ' : 'MISSED'}  ${c.target}: ${c.measured}`),
    '',
    `${date}; ${info.cores} cores (${info.cpu}), ${info.memoryGB} GB, Node ${info.node}, Python ${info.python}, pex ${info.pex}; ` +
      `load ${info.loadavgAtStart.join(' ')} at start, ${loadavgAtEnd.join(' ')} at end; ${opts.runs} run(s) per tool${opts.warmup ? ' after a warm-up' : ''}; took ${fmtMs(durationMs)}`,
  ].join('\n');
  process.stdout.write(text + '\n');
  for (const [name, p] of Object.entries(ctx.profiles)) {
    if (!p) continue;
    process.stdout.write(
      `\nprofile of a warm nx-pex build, ${name}: ${p.wallMs} ms wall, ${p.profiledMs} ms profiled, node start-up ${fmtMs(p.nodeStartupMs)}\n` +
        p.byStage
          .slice(0, 8)
          .map((/** @type {any} */ x) => `  ${String(x.ms).padStart(7)} ms  ${x.name}`)
          .join('\n') +
        '\n',
    );
  }

  await fs.mkdir(OUT_DIR, { recursive: true });
  const results = {
    date,
    machine: { ...info, loadavgAtEnd },
    options: { quick: opts.quick, runs: opts.runs, warmup: opts.warmup, cases: opts.cases, phases: opts.phases },
    durationMs: Math.round(durationMs),
    results: rows.map((r) => ({ ...r, ratio: Object.fromEntries(Object.entries(r.ratio).map(([k, v]) => [k, Math.round(v * 100) / 100])) })),
    scale,
    nx: nxPath,
    graph,
    resolve: resolved,
    image: imaged,
    test: tested,
    targets: checks,
    profiles: ctx.profiles,
  };
  await fs.writeFile(path.join(OUT_DIR, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  await fs.writeFile(
    path.join(OUT_DIR, 'results.md'),
    markdownTable(HEADER, tableRows(rows)) + '\n' + (resolveText ? `\n${markdownTable(resolveText.header, resolveText.rows)}\n` : ''),
  );
  log(`wrote ${path.relative(REPO, path.join(OUT_DIR, 'results.json'))} and results.md`);
}

main().catch(async (e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  if (e && typeof e === 'object' && 'output' in e) {
    const file = path.join(OUT_DIR, 'failure.log');
    await fs.mkdir(OUT_DIR, { recursive: true });
    await fs.writeFile(file, String(e.output));
    process.stderr.write(`bench: the failed command's output is in ${path.relative(REPO, file)}\n`);
  }
  process.exit(1);
});
