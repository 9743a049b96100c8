/**
 * Graph creation and the sync generator over a generated uv workspace of many Python projects
 * (default 200: 150 services, 50 libraries, 80 third-party packages in one uv.lock). Measures, in
 * this process, nx-pex's createNodes over every pyproject.toml plus createDependencies (first
 * run, and again with nothing changed), the nx-pex:sync generator (writing every pylock.toml, then
 * with nothing to write), and the wall time of `nx show projects` in the workspace.
 *
 *   node tools/bench/graph.js [--projects N]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');

const REPO = path.resolve(__dirname, '..', '..');

function sha(text) {
  return createHash('sha256').update(text).digest('hex');
}

/** Writes the workspace; returns its root and the pyproject.toml paths (relative). */
function generate(root, projects) {
  const libs = Math.max(1, Math.round(projects / 4));
  const services = projects - libs;
  const third = 80;
  const lines = ['version = 1', 'revision = 3', 'requires-python = ">=3.11"', '', '[manifest]', 'members = ['];
  const names = [];
  for (let i = 0; i < libs; i++) names.push(`lib-${i}`);
  for (let i = 0; i < services; i++) names.push(`svc-${i}`);
  lines.push(...names.map((n) => `    "${n}",`), ']');
  const files = [];
  const depsOf = (name, i) => {
    const isLib = name.startsWith('lib-');
    const ws = isLib ? (i > 0 ? [`lib-${(i * 7) % i}`] : []) : [`lib-${i % libs}`, `lib-${(i * 3) % libs}`];
    const ext = [`pkg-${i % third}`, `pkg-${(i * 5 + 1) % third}`];
    return { ws: [...new Set(ws)].filter((d) => d !== name), ext: [...new Set(ext)] };
  };
  names.forEach((name, idx) => {
    const i = name.startsWith('lib-') ? idx : idx - libs;
    const dir = name.startsWith('lib-') ? `libs/${name}` : `services/${name}`;
    const mod = name.replace(/-/g, '_');
    const { ws, ext } = depsOf(name, i);
    fs.mkdirSync(path.join(root, dir, 'src', mod), { recursive: true });
    const imports = ws.map((d) => `import ${d.replace(/-/g, '_')}\n`).join('');
    fs.writeFileSync(path.join(root, dir, 'src', mod, '__init__.py'), `${imports}\n\ndef main():\n    return 0\n`);
    fs.writeFileSync(path.join(root, dir, 'README.md'), `# ${name}\n`);
    const toml = [
      '[project]',
      `name = "${name}"`,
      'version = "0.1.0"',
      `dependencies = [${[...ws, ...ext].map((d) => `"${d}"`).join(', ')}]`,
      ...(name.startsWith('svc-') ? ['', '[project.scripts]', `${name} = "${mod}:main"`] : []),
      ...(ws.length ? ['', '[tool.uv.sources]', ...ws.map((d) => `${d} = { workspace = true }`)] : []),
      '',
    ].join('\n');
    fs.writeFileSync(path.join(root, dir, 'pyproject.toml'), toml);
    files.push(`${dir}/pyproject.toml`);
    lines.push('', '[[package]]', `name = "${name}"`, 'version = "0.1.0"', `source = { editable = "${dir}" }`, 'dependencies = [', ...[...ws, ...ext].sort().map((d) => `    { name = "${d}" },`), ']');
  });
  for (let j = 0; j < third; j++) {
    const name = `pkg-${j}`;
    const deps = j % 3 === 0 && j + 1 < third ? [`pkg-${j + 1}`] : [];
    const wheel = (tag) => {
      const file = `pkg_${j}-1.${j}.0-${tag}.whl`;
      return `    { url = "https://files.example.com/${file}", hash = "sha256:${sha(file)}", size = ${1000 + j} },`;
    };
    lines.push(
      '',
      '[[package]]',
      `name = "${name}"`,
      `version = "1.${j}.0"`,
      'source = { registry = "https://pypi.org/simple" }',
      ...(deps.length ? ['dependencies = [', ...deps.map((d) => `    { name = "${d}", marker = "sys_platform != 'win32'" },`), ']'] : []),
      'wheels = [',
      wheel('cp311-cp311-manylinux_2_17_x86_64'),
      wheel('cp311-cp311-win_amd64'),
      ']',
    );
  }
  fs.writeFileSync(path.join(root, 'uv.lock'), `${lines.join('\n')}\n`);
  fs.writeFileSync(path.join(root, 'pyproject.toml'), '[tool.uv.workspace]\nmembers = ["services/*", "libs/*"]\n');
  fs.writeFileSync(path.join(root, 'nx.json'), JSON.stringify({ plugins: ['nx-pex'] }, null, 2));
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'graph-bench', private: true }));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return files;
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

/** Runs the measurements; returns the numbers (ms). */
async function benchGraph({ projects = 200, log = () => undefined } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nx-pex-graph-bench-'));
  try {
    const files = generate(root, projects);
    log(`graph: ${projects} Python projects in ${root}`);
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
      const all = walkFiles(root);
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

    t = performance.now();
    execFileSync(path.join(REPO, 'node_modules/.bin/nx'), ['show', 'projects'], {
      cwd: root,
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
      stdio: 'ignore',
    });
    const nxShowProjectsMs = ms(t);
    return {
      projects,
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
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** One line for the bench report. */
function describeGraph(g) {
  return (
    `graph: ${g.projects} Python projects: createNodes + createDependencies ${g.graphMs} ms (${g.createNodesMs} + ${g.createDependenciesMs}; ` +
    `${g.externalNodes} pypi nodes, ${g.edges} edges), again unchanged ${g.warmGraphMs} ms; nx show projects ${g.nxShowProjectsMs} ms; ` +
    `nx-pex:sync writing ${g.pylockWritten} pylock.toml files ${g.syncWriteMs} ms, with nothing to write ${g.syncNoopMs} ms`
  );
}

module.exports = { benchGraph, describeGraph };

if (require.main === module) {
  const i = process.argv.indexOf('--projects');
  const projects = i > 0 ? Number(process.argv[i + 1]) : 200;
  benchGraph({ projects, log: (l) => process.stderr.write(`${l}\n`) }).then(
    (g) => process.stdout.write(`${describeGraph(g)}\n`),
    (e) => {
      process.stderr.write(`bench graph: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
