// @ts-check
'use strict';
/**
 * The `nx` case: the path users take, measured against its floors. A uv workspace of N services
 * (N = 50 and 200) over the ten `scale` closures, plus one library used by the first ten services:
 *
 * - `run-many`: `nx run-many -t build` with an empty Nx cache and a warm wheel store, with each
 *   task in its own process and with `--batch` (and with `layers` on, when the build has it);
 *   Nx's floor is the same run-many over a trivial cacheable `nx:run-commands` target of every
 *   service, printed beside every row; pex's reference is its warm build of all N services run N
 *   at a time as `xargs -P <cores>` would (the parallelism Nx gets), measured as wall time.
 *   Every variant starts from the same state: wheels in the store, no layers, no Nx cache, no dist/.
 * - `affected` (N = 50): after an edit of the library, `nx affected -t build`, with and without
 *   `--batch`: exactly its 10 dependents rebuild.
 * - `single`: a warm `nx build` of one service against Nx's floor for one trivial task.
 */
const { existsSync, lstatSync, readdirSync } = require('node:fs');
const fs = require('node:fs/promises');
const os = require('node:os');
const { performance } = require('node:perf_hooks');
const path = require('node:path');
const inputs = require('./inputs');
const { run } = require('./proc');
const { stat } = require('./report');

const { CACHE, SCALE_CLOSURES } = inputs;
const LIB = 'shared-lib';
const LIB_USERS = 10;

/**
 * @typedef {{ log: (line: string) => void, NX: string, INDEX_SERVER: string, PYTHON: string,
 *   nxWorkspace: (dir: string, name: string) => Promise<void>,
 *   childEnv: (indexUrl: string, extra?: Record<string, string>) => NodeJS.ProcessEnv,
 *   layersSupported: boolean }} Helpers
 */

/** Bytes of the regular files under `dir`: written (one link) and linked (several links, e.g. from the store). */
function dirBytes(/** @type {string} */ dir) {
  let written = 0;
  let linked = 0;
  if (!existsSync(dir)) return { written, linked };
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const st = lstatSync(path.join(entry.parentPath ?? entry.path, entry.name));
    if (st.nlink > 1) linked += st.size;
    else written += st.size;
  }
  return { written, linked };
}

const svcName = (/** @type {number} */ i) => `svc-${String(i).padStart(3, '0')}`;
const importName = (/** @type {string} */ r) => ({ pyyaml: 'yaml' })[r] ?? inputs.moduleName(r);

/**
 * Writes the workspace: N services, the library, a trivial `noop` target per service, uv.lock.
 * @param {string} ws @param {number} n @param {import('./inputs').WheelFile[][]} sets @param {string} indexUrl @param {Helpers} h
 */
async function writeWorkspace(ws, n, sets, indexUrl, h) {
  await fs.rm(ws, { recursive: true, force: true });
  await h.nxWorkspace(ws, `bench-nx-path-${n}`);
  await fs.writeFile(path.join(ws, 'pyproject.toml'), '[tool.uv.workspace]\nmembers = ["services/*", "libs/*"]\n');
  await fs.writeFile(path.join(ws, '.gitignore'), 'node_modules\ndist\n.nx\n');
  const libDir = path.join(ws, 'libs', LIB);
  await fs.mkdir(path.join(libDir, 'src', inputs.moduleName(LIB)), { recursive: true });
  await fs.writeFile(path.join(libDir, 'pyproject.toml'), `[project]\nname = "${LIB}"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n`);
  await fs.writeFile(path.join(libDir, 'src', inputs.moduleName(LIB), '__init__.py'), 'VALUE = 0\n');
  const members = [{ name: LIB, editable: `libs/${LIB}`, requirements: [], wheels: [] }];
  for (let i = 0; i < n; i++) {
    const name = svcName(i);
    const reqs = SCALE_CLOSURES[i % SCALE_CLOSURES.length];
    const usesLib = i < LIB_USERS;
    const dir = path.join(ws, 'services', name);
    await inputs.writeProject(
      dir,
      name,
      usesLib ? [...reqs, LIB] : reqs,
      usesLib ? [...reqs.map(importName), inputs.moduleName(LIB)] : reqs.map(importName),
      `    print(json.dumps({"service": "${name}", "edited": edited.VALUE}))`,
    );
    // Nx's floor: a cacheable task that does nothing, on every service.
    const noop = { executor: 'nx:run-commands', options: { command: 'true' }, cache: true, inputs: ['{projectRoot}/pyproject.toml'], outputs: [] };
    await fs.writeFile(path.join(dir, 'project.json'), JSON.stringify({ name, targets: { noop } }, null, 2) + '\n');
    members.push({ name, editable: `services/${name}`, requirements: usesLib ? [...reqs, LIB] : reqs, wheels: sets[i % sets.length], workspaceDeps: usesLib ? [LIB] : [] });
  }
  await fs.writeFile(path.join(ws, 'uv.lock'), inputs.lockText(members, indexUrl));
}

/**
 * Runs `jobs` `parallel` at a time (each job starting as soon as one ends, as `xargs -P` does);
 * the wall time of all of them.
 * @param {Array<() => Promise<unknown>>} jobs @param {number} parallel
 */
async function wallTime(jobs, parallel) {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  return performance.now() - t0;
}

/** pex's arguments for service `i` of the workspace `ws`. @param {string} ws @param {number} i @param {string} indexUrl */
function pexArgs(ws, i, indexUrl) {
  const dir = path.join(ws, 'services', svcName(i));
  const lib = i < LIB_USERS ? ['-D', path.join(ws, 'libs', LIB, 'src')] : [];
  const reqs = SCALE_CLOSURES[i % SCALE_CLOSURES.length];
  return ['--no-pre-install-wheels', '--no-pypi', '--index-url', indexUrl, ...reqs, '-D', path.join(dir, 'src'), ...lib, '-e', `${inputs.moduleName(svcName(i))}.main:main`, '-o', path.join(ws, 'pex-out', `${i}.pex`)];
}

/** The build options every service's target gets from `targetDefaults` (none: the defaults). @param {string} ws @param {Record<string, unknown> | undefined} options */
async function setBuildOptions(ws, options) {
  const file = path.join(ws, 'nx.json');
  const nxJson = JSON.parse(await fs.readFile(file, 'utf8'));
  if (options) nxJson.targetDefaults = { 'nx-pex:build': { options } };
  else delete nxJson.targetDefaults;
  await fs.writeFile(file, JSON.stringify(nxJson, null, 2) + '\n');
}

/**
 * @param {{ runs: number, quick: boolean, nxSizes: number[] }} opts
 * @param {{ pexBin: string, pexWheel: string }} ctx
 * @param {Helpers} h
 */
async function benchNxPath(opts, ctx, h) {
  const { startIndexServer } = require(h.INDEX_SERVER);
  const wheelsDir = path.join(CACHE, 'scale', 'wheels');
  await inputs.downloadOnce(wheelsDir, [...new Set(SCALE_CLOSURES.flat())].sort(), ctx.pexWheel, h.log);
  const sets = await inputs.resolveClosures(wheelsDir, SCALE_CLOSURES, await inputs.listWheels(wheelsDir));
  const server = await startIndexServer({ dir: wheelsDir });
  const store = path.join(CACHE, 'store-nx-path');
  /** @type {any} */
  const out = { sizes: [] };
  try {
    await fetch(`${server.url}/`);
    const env = h.childEnv(server.url, { NX_PEX_STORE: store });
    const nx = (/** @type {string} */ ws, /** @type {string[]} */ args) => run(h.NX, args, { cwd: ws, env, timeoutMs: 30 * 60_000 });
    // Every variant from the same state: no Nx cache, no dist/, and no layers in the store (its wheels stay).
    const fresh = (/** @type {string} */ ws) =>
      Promise.all([
        fs.rm(path.join(ws, '.nx'), { recursive: true, force: true }),
        fs.rm(path.join(ws, 'dist'), { recursive: true, force: true }),
        fs.rm(path.join(store, 'layers'), { recursive: true, force: true }),
      ]);
    const cores = os.cpus().length;
    out.cores = cores;
    const pexRoot = path.join(CACHE, 'pex-root-nx-path');
    const pexEnv = { ...env, PEX_ROOT: pexRoot };

    for (const n of opts.nxSizes) {
      const ws = path.join(CACHE, `nx-path-${n}`);
      await writeWorkspace(ws, n, sets, server.url, h);
      await nx(ws, ['sync']);
      h.log(`nx ${n}: filling the wheel store and pex's PEX_ROOT (untimed)`);
      await nx(ws, ['run-many', '-t', 'build', '--batch', '--skip-nx-cache']);
      await fs.mkdir(path.join(ws, 'pex-out'), { recursive: true });
      for (let i = 0; i < Math.min(n, SCALE_CLOSURES.length); i++) await run(ctx.pexBin, pexArgs(ws, i, server.url), { env: pexEnv });
      // pex's reference: the same N services, warm, as many at a time as the machine has cores.
      h.log(`nx ${n}: pex builds all ${n} services, ${cores} at a time (xargs -P ${cores})`);
      const pexMs = await wallTime(
        Array.from({ length: n }, (_, i) => () => run(ctx.pexBin, pexArgs(ws, i, server.url), { env: pexEnv, timeoutMs: 10 * 60_000 })),
        cores,
      );
      await fs.rm(path.join(ws, 'pex-out'), { recursive: true, force: true });
      // `full`: the variant writes each service's full PEX, as pex does (the ones pex is compared with).
      /** @type {{ name: string, args: string[], options?: Record<string, unknown>, full?: boolean, target?: string }[]} */
      const variants = [
        { name: 'forked', args: [], full: true },
        { name: 'batch', args: ['--batch'], full: true },
        ...(h.layersSupported
          ? [
              { name: 'layers', args: [], options: { layers: true }, full: true },
              { name: 'layers batch', args: ['--batch'], options: { layers: true }, full: true },
              // Layers only, packed: what is new is written, the rest hard-linked from the store.
              { name: 'layers only packed batch', args: ['--batch'], options: { layers: true, fullPex: false, layout: 'packed' } },
            ]
          : []),
        { name: 'nx floor', args: [], target: 'noop' },
      ];
      const runs = n >= 200 || opts.quick ? 1 : Math.min(opts.runs, 3);
      /** @type {Record<string, number[]>} */
      const samples = Object.fromEntries(variants.map((v) => [v.name, []]));
      /** @type {Record<string, { written: number, linked: number }>} */
      const bytes = {};
      /** @type {Record<string, number>} deps layers in the store after each layers variant (each starts with none) */
      const layersInStore = {};
      for (let r = 0; r < runs; r++) {
        for (let k = 0; k < variants.length; k++) {
          const v = variants[(k + r) % variants.length];
          await setBuildOptions(ws, v.options);
          await fresh(ws);
          h.log(`nx ${n}: run-many -t ${v.target ?? 'build'} ${v.args.join(' ')}${v.options ? ` (${JSON.stringify(v.options)})` : ''}, run ${r + 1}/${runs}`);
          const res = await nx(ws, ['run-many', '-t', v.target ?? 'build', ...v.args]);
          const out = res.stdout + res.stderr;
          if (!new RegExp(`Successfully ran target ${v.target ?? 'build'} for ${n} projects`).test(out) || /read the output from the cache/.test(out)) {
            throw Object.assign(new Error(`nx ${n} ${v.name}: not every task ran, or some came from a cache`), { output: out });
          }
          samples[v.name].push(res.ms);
          if (!v.target) bytes[v.name] = dirBytes(path.join(ws, 'dist'));
          if (v.options?.layers) layersInStore[v.name] = existsSync(path.join(store, 'layers')) ? readdirSync(path.join(store, 'layers')).filter((k) => /^[0-9a-f]{64}$/.test(k)).length : 0;
        }
      }
      await setBuildOptions(ws, undefined);
      const stats = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, stat(xs)]));
      out.sizes.push({ services: n, runs, stats, bytes, pexMs: Math.round(pexMs), layersInStore, full: variants.filter((v) => v.full).map((v) => v.name) });

      if (n === opts.nxSizes[0]) {
        // affected: build everything into the Nx cache, commit, edit the library.
        await fresh(ws);
        await nx(ws, ['run-many', '-t', 'build', '--batch']);
        await run('git', ['init', '-q'], { cwd: ws });
        await run('git', ['add', '-A'], { cwd: ws });
        await run('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-qm', 'bench'], { cwd: ws });
        /** @type {Record<string, number>} */
        const affected = {};
        let edit = 0;
        for (const [name, args] of /** @type {[string, string[]][]} */ ([['forked', []], ['batch', ['--batch']]])) {
          await fs.writeFile(path.join(ws, 'libs', LIB, 'src', inputs.moduleName(LIB), '__init__.py'), `VALUE = ${++edit}\n`);
          h.log(`nx ${n}: affected -t build ${args.join(' ')} after a library edit`);
          const res = await nx(ws, ['affected', '-t', 'build', '--base=HEAD', ...args]);
          if (!new RegExp(`Successfully ran target build for ${LIB_USERS} projects`).test(res.stdout + res.stderr) || /read the output from the cache/.test(res.stdout + res.stderr)) {
            throw Object.assign(new Error(`nx affected: expected ${LIB_USERS} projects`), { output: res.stdout + res.stderr });
          }
          affected[name] = Math.round(res.ms);
        }
        out.affected = { services: n, rebuilt: LIB_USERS, ms: affected };

        // One service, warm: its build against Nx's floor for one trivial task.
        const single = { build: /** @type {number[]} */ ([]), floor: /** @type {number[]} */ ([]) };
        for (let r = 0; r < (opts.quick ? 1 : opts.runs); r++) {
          single.build.push((await nx(ws, ['build', svcName(0), '--skip-nx-cache'])).ms);
          single.floor.push((await nx(ws, ['noop', svcName(0), '--skip-nx-cache'])).ms);
        }
        out.single = { build: stat(single.build), floor: stat(single.floor) };
      }
    }
  } finally {
    await server.close();
  }
  return out;
}

/**
 * Lines of the report, and the issue's targets for this case.
 * @param {any} r
 * @param {(ms: number) => string} fmtMs
 */
function nxPathReport(r, fmtMs) {
  const lines = [`nx: pex's reference is its warm build of the same N services, ${r.cores} at a time (xargs -P ${r.cores}), wall time`];
  /** @type {{ target: string, measured: string, met: boolean }[]} */
  const checks = [];
  for (const s of r.sizes) {
    const floor = s.stats['nx floor'].median;
    lines.push(`nx ${s.services} services, pex × ${s.services} at -P ${r.cores}: ${fmtMs(s.pexMs)}`);
    for (const [name, st] of Object.entries(s.stats)) {
      const b = s.bytes[name];
      const per = st.median / s.services;
      lines.push(
        `nx ${s.services} services, run-many ${name.padEnd(24)} ${fmtMs(st.median).padStart(8)} (${fmtMs(per)} per service; Nx floor ${fmtMs(floor)}` +
          (name === 'nx floor' ? '' : `; pex × ${s.services} at -P ${r.cores} / this = ${(s.pexMs / st.median).toFixed(1)}×; this / Nx floor = ${(st.median / floor).toFixed(2)}×`) +
          (b ? `; dist: ${(b.written / 1e6).toFixed(0)} MB written, ${(b.linked / 1e6).toFixed(0)} MB linked` : '') +
          ')',
      );
    }
    // The targets compare outputs like pex's: the variants that write each service's full PEX.
    const best = Math.min(...Object.entries(s.stats).filter(([k]) => (s.full ?? Object.keys(s.stats).filter((x) => x !== 'nx floor')).includes(k)).map(([, st]) => st.median));
    checks.push({ target: `nx ${s.services}: run-many ≥ 20× faster than pex's ${s.services} builds at -P ${r.cores}`, measured: `${(s.pexMs / best).toFixed(1)}×`, met: s.pexMs / best >= 20 });
    checks.push({ target: `nx ${s.services}: run-many within 1.5× of Nx's floor`, measured: `${(best / floor).toFixed(2)}×`, met: best / floor <= 1.5 });
    for (const [name, count] of Object.entries(s.layersInStore ?? {})) lines.push(`nx ${s.services}: deps layers written to the store by run-many ${name}: ${count} (one per closure: ${SCALE_CLOSURES.length})`);
  }
  if (r.affected) lines.push(`nx affected after a library edit (${r.affected.rebuilt} of ${r.affected.services} services): forked ${fmtMs(r.affected.ms.forked)}, --batch ${fmtMs(r.affected.ms.batch)}`);
  if (r.single) {
    const d = r.single.build.median - r.single.floor.median;
    lines.push(`nx build of one service, warm: ${fmtMs(r.single.build.median)}; Nx floor (one trivial task): ${fmtMs(r.single.floor.median)}; difference ${fmtMs(d)}`);
    checks.push({ target: 'one-service nx build within 0.3 s of Nx floor', measured: fmtMs(d), met: d <= 300 });
  }
  return { lines, checks };
}

module.exports = { benchNxPath, nxPathReport, dirBytes };
