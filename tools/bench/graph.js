/**
 * Graph creation and the sync generator over a generated uv workspace the size of a real one:
 * N members (a quarter libraries, each service on two libraries, libraries on one another, some
 * through an extra), 300 third-party packages with many wheels each (a multi-MB uv.lock), and a
 * source tree of real size (`--modules` per project). Measures, in this process, nx-pex's
 * createNodes over every pyproject.toml plus createDependencies (first run, and again with
 * nothing changed) and the nx-pex:sync generator (writing every pylock.toml, then with nothing
 * to write); then, side by side with Nx's floor (the same workspace with the plugin removed
 * from nx.json), the wall time of `nx show projects` and of a no-op `nx sync` (medians).
 *
 *   node tools/bench/graph.js [--projects N[,M…]] [--modules K] [--runs R]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');

const REPO = path.resolve(__dirname, '..', '..');
const THIRD = 300;
const WHEELS_PER_PACKAGE = 24;

function sha(text) {
  return createHash('sha256').update(text).digest('hex');
}

const PLATFORMS = [
  'manylinux_2_17_x86_64.manylinux2014_x86_64',
  'manylinux_2_17_aarch64.manylinux2014_aarch64',
  'musllinux_1_2_x86_64',
  'macosx_11_0_arm64',
  'macosx_10_9_x86_64',
  'win_amd64',
];
const PYTHONS = ['cp311', 'cp312', 'cp313', 'cp314'];

/** Writes the workspace; returns the pyproject.toml paths (relative). */
function generate(root, projects, modules) {
  const libs = Math.max(2, Math.round(projects / 4));
  const services = projects - libs;
  const third = THIRD;
  const lines = ['version = 1', 'revision = 3', 'requires-python = ">=3.11"', '', '[manifest]', 'members = ['];
  const names = [];
  for (let i = 0; i < libs; i++) names.push(`lib-${i}`);
  for (let i = 0; i < services; i++) names.push(`svc-${i}`);
  lines.push(...[...names].sort().map((n) => `    "${n}",`), ']');
  const files = [];
  const depsOf = (name, i) => {
    const isLib = name.startsWith('lib-');
    const ws = isLib ? (i > 0 ? [`lib-${(i * 7) % i}`] : []) : [`lib-${i % libs}`, `lib-${(i * 3) % libs}`];
    const ext = [`pkg-${i % third}`, `pkg-${(i * 5 + 1) % third}`, `pkg-${(i * 11 + 7) % third}`];
    return { ws: [...new Set(ws)].filter((d) => d !== name), ext: [...new Set(ext)] };
  };
  const packages = [];
  names.forEach((name, idx) => {
    const isLib = name.startsWith('lib-');
    const i = isLib ? idx : idx - libs;
    const dir = isLib ? `libs/${name}` : `services/${name}`;
    const mod = name.replace(/-/g, '_');
    const { ws, ext } = depsOf(name, i);
    // Every third library offers an extra that pulls in another library.
    const extra = isLib && i % 3 === 0 && libs > 1 ? `lib-${(i + 1) % libs}` : undefined;
    const pkgDir = path.join(root, dir, 'src', mod);
    fs.mkdirSync(path.join(pkgDir, 'sub'), { recursive: true });
    const imports = ws.map((d) => `import ${d.replace(/-/g, '_')}\n`).join('');
    fs.writeFileSync(path.join(pkgDir, '__init__.py'), `${imports}\n\ndef main():\n    return 0\n`);
    for (let m = 0; m < modules; m++) {
      const body = `"""Module ${m} of ${name}."""\nimport json\nimport os\nfrom . import sub\n\n\ndef f${m}(x):\n    return json.dumps({"x": x, "cwd": os.getcwd()})\n`;
      fs.writeFileSync(path.join(m % 4 === 0 ? path.join(pkgDir, 'sub') : pkgDir, `m${m}.py`), body);
    }
    fs.writeFileSync(path.join(pkgDir, 'sub', '__init__.py'), '');
    fs.writeFileSync(path.join(root, dir, 'README.md'), `# ${name}\n`);
    const toml = [
      '[project]',
      `name = "${name}"`,
      'version = "0.1.0"',
      'requires-python = ">=3.11"',
      `dependencies = [${[...ws, ...ext].map((d) => `"${d}"`).join(', ')}]`,
      ...(extra ? ['', '[project.optional-dependencies]', `more = ["${extra}"]`] : []),
      ...(isLib ? [] : ['', '[project.scripts]', `${name} = "${mod}:main"`]),
      ...(ws.length || extra ? ['', '[tool.uv.sources]', ...[...ws, ...(extra ? [extra] : [])].map((d) => `${d} = { workspace = true }`)] : []),
      '',
      '[build-system]',
      'requires = ["hatchling"]',
      'build-backend = "hatchling.build"',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(root, dir, 'pyproject.toml'), toml);
    files.push(`${dir}/pyproject.toml`);
    // Services ask for their first library's extra where it has one.
    const wsDeps = ws.map((d) => (!isLib && Number(d.slice(4)) % 3 === 0 ? `    { name = "${d}", extra = ["more"] },` : `    { name = "${d}" },`));
    packages.push({
      name,
      lines: [
        '',
        '[[package]]',
        `name = "${name}"`,
        'version = "0.1.0"',
        `source = { editable = "${dir}" }`,
        'dependencies = [',
        ...[...wsDeps, ...ext.map((d) => `    { name = "${d}" },`)].sort(),
        ']',
        ...(extra ? ['', '[package.optional-dependencies]', `more = [`, `    { name = "${extra}" },`, ']'] : []),
      ],
    });
  });
  for (let j = 0; j < third; j++) {
    const name = `pkg-${j}`;
    const deps = j % 3 === 0 && j + 1 < third ? [`pkg-${j + 1}`] : [];
    const wheels = [];
    for (let w = 0; w < WHEELS_PER_PACKAGE; w++) {
      const py = PYTHONS[w % PYTHONS.length];
      const file = `pkg_${j}-1.${j}.0-${py}-${py}-${PLATFORMS[Math.floor(w / PYTHONS.length) % PLATFORMS.length]}.whl`;
      const h = sha(file);
      wheels.push(`    { url = "https://files.pythonhosted.org/packages/${h.slice(0, 2)}/${h.slice(2, 4)}/${h.slice(4, 60)}/${file}", hash = "sha256:${h}", size = ${100000 + j * 13 + w}, upload-time = "2026-01-0${1 + (w % 9)}T10:00:00Z" },`);
    }
    const sdist = `pkg_${j}-1.${j}.0.tar.gz`;
    packages.push({
      name,
      lines: [
        '',
        '[[package]]',
        `name = "${name}"`,
        `version = "1.${j}.0"`,
        'source = { registry = "https://pypi.org/simple" }',
        ...(deps.length ? ['dependencies = [', ...deps.map((d) => `    { name = "${d}", marker = "sys_platform != 'win32'" },`), ']'] : []),
        `sdist = { url = "https://files.pythonhosted.org/packages/${sha(sdist).slice(0, 2)}/${sdist}", hash = "sha256:${sha(sdist)}", size = ${50000 + j}, upload-time = "2026-01-01T10:00:00Z" }`,
        'wheels = [',
        ...wheels,
        ']',
      ],
    });
  }
  packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const p of packages) lines.push(...p.lines);
  fs.writeFileSync(path.join(root, 'uv.lock'), `${lines.join('\n')}\n`);
  fs.writeFileSync(path.join(root, 'pyproject.toml'), '[tool.uv.workspace]\nmembers = ["services/*", "libs/*"]\n');
  writeNxJson(root, true);
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'graph-bench', private: true }));
  fs.writeFileSync(path.join(root, '.gitignore'), 'node_modules\n.nx\n');
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return files;
}

function writeNxJson(root, withPlugin, { noopSync = false } = {}) {
  const nxJson = { plugins: withPlugin ? ['nx-pex'] : [], ...(noopSync ? { sync: { globalGenerators: [`./${NOOP_SYNC}:noop`] } } : {}) };
  fs.writeFileSync(path.join(root, 'nx.json'), JSON.stringify(nxJson, null, 2));
}

/** Where the do-nothing sync generator lives in a generated workspace (a local generator collection). */
const NOOP_SYNC = '.bench/noop-sync';

/**
 * A sync generator that changes nothing. Nx's floor for `nx sync` with it registered (and no
 * plugin) is what any sync generator costs in Nx itself: without the daemon, `nx sync` computes
 * the project graph, and computes it again before running the generators.
 */
function writeNoopSyncGenerator(root) {
  const dir = path.join(root, NOOP_SYNC);
  fs.mkdirSync(dir, { recursive: true });
  const json = (name, value) => fs.writeFileSync(path.join(dir, name), JSON.stringify(value));
  json('package.json', { name: 'noop-sync', version: '0.0.0', generators: './generators.json' });
  json('generators.json', { generators: { noop: { factory: './noop.js', schema: './schema.json', description: 'changes nothing' } } });
  json('schema.json', { type: 'object', properties: {} });
  fs.writeFileSync(path.join(dir, 'noop.js'), 'module.exports = async () => ({});\n');
}

function ms(start) {
  return Math.round((performance.now() - start) * 10) / 10;
}

function walkFiles(root, dir = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === '.nx') continue;
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walkFiles(root, rel));
    else out.push({ file: rel, hash: sha(fs.readFileSync(path.join(root, rel))) });
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

/** Wall time (ms) of `nx <args>` in `root`, median of `runs` after one warm-up run. */
function timeNx(root, args, runs) {
  const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };
  const once = () => {
    const t = performance.now();
    execFileSync(path.join(REPO, 'node_modules/.bin/nx'), args, { cwd: root, env, stdio: 'ignore' });
    return ms(t);
  };
  once();
  return median(Array.from({ length: runs }, once));
}

/**
 * Wall time (ms) of `nx <args>` in `root` with the Nx daemon, as in a terminal: the daemon is
 * started afresh (it reads nx.json once), then the median of `runs` after two warm-up runs.
 */
function timeNxDaemon(root, args, runs) {
  const env = { ...process.env, NX_DAEMON: 'true', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
  delete env.CI;
  const nx = (a) => execFileSync(path.join(REPO, 'node_modules/.bin/nx'), a, { cwd: root, env, stdio: 'ignore' });
  nx(['daemon', '--stop']);
  const once = () => {
    const t = performance.now();
    nx(args);
    return ms(t);
  };
  try {
    once();
    once();
    return median(Array.from({ length: runs }, once));
  } finally {
    nx(['daemon', '--stop']);
  }
}

/** Runs the measurements for one workspace size; returns the numbers (ms). */
async function benchGraphSize({ projects, modules, runs, log }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nx-pex-graph-bench-'));
  try {
    const files = generate(root, projects, modules);
    const lockBytes = fs.statSync(path.join(root, 'uv.lock')).size;
    log(`graph: ${projects} Python projects, ${modules} modules each, uv.lock ${(lockBytes / 1e6).toFixed(1)} MB in ${root}`);
    const plugin = require(path.join(REPO, 'plugins/nx-pex/dist'));
    const { syncProjectLocks } = require(path.join(REPO, 'plugins/nx-pex/dist/generators/sync/generator'));
    const { FsTree, flushChanges } = require(path.join(REPO, 'node_modules/nx/dist/src/generators/tree'));

    // The sync generator: first writes every pylock.toml, then finds nothing to do.
    let t = performance.now();
    const tree = new FsTree(root, false);
    const first = syncProjectLocks(tree);
    flushChanges(root, tree.listChanges());
    const syncWriteMs = ms(t);
    t = performance.now();
    const second = syncProjectLocks(new FsTree(root, false));
    const syncNoopMs = ms(t);

    const context = { nxJsonConfiguration: {}, workspaceRoot: root };
    const all = walkFiles(root);
    const graphOnce = async () => {
      const start = performance.now();
      const results = await plugin.createNodes[1](files, {}, context);
      const nodesMs = ms(start);
      const projectsMap = {};
      const externalNodes = {};
      for (const [, r] of results) {
        for (const p of Object.values(r.projects ?? {})) projectsMap[p.name] = { root: p.root, name: p.name };
        Object.assign(externalNodes, r.externalNodes ?? {});
      }
      const projectFileMap = {};
      for (const p of Object.values(projectsMap)) projectFileMap[p.name] = all.filter((f) => f.file.startsWith(`${p.root}/`));
      const depStart = performance.now();
      const deps = await plugin.createDependencies({}, {
        workspaceRoot: root,
        projects: projectsMap,
        externalNodes,
        nxJsonConfiguration: {},
        fileMap: { projectFileMap, nonProjectFiles: [] },
        filesToProcess: { projectFileMap, nonProjectFiles: [] },
      });
      return { nodesMs, depsMs: ms(depStart), projects: Object.keys(projectsMap).length, external: Object.keys(externalNodes).length, edges: deps.length };
    };
    const cold = await graphOnce();
    const warm = await graphOnce();

    // Side by side with Nx's floor: the same workspace, the plugin removed from nx.json.
    execFileSync('git', ['init', '-q'], { cwd: root });
    const nxShowProjectsMs = timeNx(root, ['show', 'projects'], runs);
    const nxSyncMs = timeNx(root, ['sync'], runs);
    const nxSyncDaemonMs = timeNxDaemon(root, ['sync'], runs);
    writeNxJson(root, false);
    const floorShowProjectsMs = timeNx(root, ['show', 'projects'], runs);
    const floorSyncMs = timeNx(root, ['sync'], runs);
    const floorSyncDaemonMs = timeNxDaemon(root, ['sync'], runs);
    writeNoopSyncGenerator(root);
    writeNxJson(root, false, { noopSync: true });
    const floorSyncGeneratorMs = timeNx(root, ['sync'], runs);
    writeNxJson(root, true);
    return {
      projects,
      modules,
      files: all.length,
      uvLockBytes: lockBytes,
      pylockWritten: first.written.length,
      pylockUnchanged: second.unchanged.length,
      syncWriteMs,
      syncNoopMs,
      createNodesMs: cold.nodesMs,
      createDependenciesMs: cold.depsMs,
      graphMs: Math.round((cold.nodesMs + cold.depsMs) * 10) / 10,
      warmGraphMs: Math.round((warm.nodesMs + warm.depsMs) * 10) / 10,
      externalNodes: cold.external,
      edges: cold.edges,
      nxShowProjectsMs,
      floorShowProjectsMs,
      nxSyncMs,
      floorSyncMs,
      floorSyncGeneratorMs,
      nxSyncDaemonMs,
      floorSyncDaemonMs,
      runs,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The graph case: one measurement per workspace size. */
async function benchGraph({ sizes = [100, 300], modules = 200, runs = 3, log = () => undefined } = {}) {
  const out = [];
  for (const projects of sizes) out.push(await benchGraphSize({ projects, modules, runs, log }));
  return out;
}

/** The plugin's cost above Nx's floor that issue targets hold it to: `nx show projects` and a no-op `nx sync`. */
function graphTargets(g) {
  const showLimit = g.projects <= 100 ? 500 : 1000;
  const showCost = Math.round(g.nxShowProjectsMs - g.floorShowProjectsMs);
  const syncCost = Math.round(g.nxSyncMs - g.floorSyncMs);
  const daemonSyncCost = Math.round(g.nxSyncDaemonMs - g.floorSyncDaemonMs);
  return [
    { target: `nx show projects at ${g.projects} members within ${showLimit} ms of Nx's floor`, met: showCost <= showLimit, measured: `+${showCost} ms (${g.nxShowProjectsMs} vs ${g.floorShowProjectsMs} ms)` },
    { target: `no-op nx sync at ${g.projects} members within 300 ms of Nx's floor`, met: syncCost <= 300, measured: `+${syncCost} ms (${g.nxSyncMs} vs ${g.floorSyncMs} ms; of it, Nx's own cost of a sync generator: ${Math.round(g.floorSyncGeneratorMs - g.floorSyncMs)} ms)` },
    { target: `no-op nx sync at ${g.projects} members within 300 ms of Nx's floor, with the Nx daemon`, met: daemonSyncCost <= 300, measured: `+${daemonSyncCost} ms (${g.nxSyncDaemonMs} vs ${g.floorSyncDaemonMs} ms)` },
  ];
}

/** Lines for the bench report. */
function describeGraph(list) {
  return list.map(
    (g) =>
      `graph: ${g.projects} Python projects (${g.files} files, uv.lock ${(g.uvLockBytes / 1e6).toFixed(1)} MB): createNodes + createDependencies ${g.graphMs} ms (${g.createNodesMs} + ${g.createDependenciesMs}; ` +
      `${g.externalNodes} pypi nodes, ${g.edges} edges), again unchanged ${g.warmGraphMs} ms; ` +
      `nx-pex:sync writing ${g.pylockWritten} pylock.toml files ${g.syncWriteMs} ms, with nothing to write ${g.syncNoopMs} ms; ` +
      `nx show projects ${g.nxShowProjectsMs} ms (Nx floor, plugin removed: ${g.floorShowProjectsMs} ms); no-op nx sync ${g.nxSyncMs} ms (floor ${g.floorSyncMs} ms; ` +
      `floor with a do-nothing sync generator ${g.floorSyncGeneratorMs} ms, so Nx's own cost of any sync generator is ${Math.round(g.floorSyncGeneratorMs - g.floorSyncMs)} ms); ` +
      `with the Nx daemon, no-op nx sync ${g.nxSyncDaemonMs} ms (floor ${g.floorSyncDaemonMs} ms); medians of ${g.runs}`,
  );
}

module.exports = { benchGraph, describeGraph, graphTargets, generate, writeNxJson };

if (require.main === module) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const sizes = String(arg('--projects', '100,300')).split(',').map(Number);
  benchGraph({ sizes, modules: Number(arg('--modules', 200)), runs: Number(arg('--runs', 3)), log: (l) => process.stderr.write(`${l}\n`) }).then(
    (list) => {
      process.stdout.write(`${describeGraph(list).join('\n')}\n`);
      for (const g of list) for (const c of graphTargets(g)) process.stdout.write(`  ${c.met ? 'met   ' : 'MISSED'}  ${c.target}: ${c.measured}\n`);
    },
    (e) => {
      process.stderr.write(`bench graph: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
