// @ts-check
'use strict';
/**
 * The benchmark's inputs, prepared once into the git-ignored `.cache/bench/`: the wheels pip
 * resolves for each case on this python3, a small uv-workspace-shaped project per case, and a
 * `uv.lock` written from the downloaded files (pointing at the local index of the run).
 */
const { createHash } = require('node:crypto');
const { createReadStream, existsSync } = require('node:fs');
const fs = require('node:fs/promises');
const path = require('node:path');
const { run } = require('./proc');

const REPO = path.resolve(__dirname, '..', '..', '..');
// NX_PEX_BENCH_CACHE puts the bench's scratch workspaces and stores elsewhere (downloads too).
const CACHE = process.env.NX_PEX_BENCH_CACHE ? path.resolve(process.env.NX_PEX_BENCH_CACHE) : path.join(REPO, '.cache', 'bench');

/**
 * @typedef {{ requirements: string[], imports: string[], body: string }} CaseSpec
 * @typedef {{ filename: string, name: string, version: string, sha256: string, size: number }} WheelFile
 */

/** @type {Record<string, CaseSpec>} */
const CASES = {
  small: {
    requirements: ['requests'],
    imports: ['requests'],
    body: `    print(json.dumps({"requests": requests.__version__, "edited": edited.VALUE}))`,
  },
  web: {
    requirements: ['fastapi', 'uvicorn', 'pydantic'],
    imports: ['fastapi', 'pydantic', 'uvicorn'],
    body: [
      `    class Item(pydantic.BaseModel):`,
      `        name: str`,
      `        price: float`,
      `    app = fastapi.FastAPI()`,
      `    @app.get("/items/{name}")`,
      `    def item(name: str) -> Item:`,
      `        return Item(name=name, price=1.5)`,
      `    config = uvicorn.Config(app)`,
      `    print(json.dumps({"routes": len(app.routes), "item": Item(name="x", price=2).model_dump(), "port": config.port, "edited": edited.VALUE}))`,
    ].join('\n'),
  },
  data: {
    requirements: ['pandas', 'numpy'],
    imports: ['numpy', 'pandas'],
    body: [
      `    frame = pandas.DataFrame({"x": numpy.arange(10, dtype=float)})`,
      `    print(json.dumps({"mean": float(frame.x.mean()), "std": float(frame.x.std()), "edited": edited.VALUE}))`,
    ].join('\n'),
  },
  big: {
    requirements: [
      'scipy',
      'pyarrow',
      'polars',
      'pandas',
      'numpy',
      'duckdb',
      'opencv-python-headless',
      'scikit-learn',
      'matplotlib',
      'onnxruntime',
    ],
    imports: ['cv2', 'duckdb', 'matplotlib', 'numpy', 'onnxruntime', 'pandas', 'polars', 'pyarrow', 'scipy', 'sklearn'],
    body: `    print(json.dumps({"numpy": numpy.__version__, "edited": edited.VALUE}))`,
  },
};

/** The `scale` workspace: ten distinct closures, each resolved by pip from these top-level requirements. */
const SCALE_CLOSURES = [
  ['requests'],
  ['fastapi', 'uvicorn', 'pydantic'],
  ['pandas', 'numpy'],
  ['click'],
  ['requests', 'pydantic'],
  ['fastapi', 'uvicorn', 'requests'],
  ['pandas', 'requests'],
  ['httpx'],
  ['flask'],
  ['pyyaml', 'rich', 'httpx'],
];

/** @param {string} name */
const canonical = (name) => name.toLowerCase().replace(/[-_.]+/g, '-');
/** @param {string} name */
const moduleName = (name) => name.replace(/-/g, '_');

/** @param {string} file */
function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/**
 * The wheels in `dir` (not the pex runtime wheel, which only nx-pex fetches), with hashes kept
 * in `dir/.hashes.json` by size and mtime.
 * @param {string} dir
 * @returns {Promise<WheelFile[]>}
 */
async function listWheels(dir) {
  const cacheFile = path.join(dir, '.hashes.json');
  /** @type {Record<string, { key: string, sha256: string }>} */
  let known = {};
  try {
    known = JSON.parse(await fs.readFile(cacheFile, 'utf8'));
  } catch {}
  /** @type {WheelFile[]} */
  const out = [];
  for (const filename of (await fs.readdir(dir)).sort()) {
    if (!filename.endsWith('.whl') || filename.startsWith('pex-')) continue;
    const st = await fs.stat(path.join(dir, filename));
    const key = `${st.size}:${st.mtimeMs}`;
    let sha = known[filename]?.key === key ? known[filename].sha256 : undefined;
    if (!sha) {
      sha = await sha256File(path.join(dir, filename));
      known[filename] = { key, sha256: sha };
    }
    const [dist, version] = filename.split('-');
    out.push({ filename, name: canonical(dist), version, sha256: sha, size: st.size });
  }
  await fs.writeFile(cacheFile, JSON.stringify(known, null, 1));
  return out;
}

/** The pinned pex wheel (and the real pex CLI), from the fixture cache; fetched when missing. */
async function ensurePex(log) {
  const wheels = path.join(REPO, '.cache', 'wheels');
  const pexBin = path.join(REPO, '.cache', 'pex-venv', 'bin', 'pex');
  /** @type {{ filename: string, version: string }} */
  const pinned = require(path.join(REPO, 'packages', 'pex', 'dist')).PINNED_PEX;
  const pexWheel = path.join(wheels, pinned.filename);
  const version = async () => (existsSync(pexBin) ? (await run(pexBin, ['--version'], { allowFailure: true })).stdout.trim() : '');
  if (!existsSync(pexWheel) || (await version()) !== pinned.version) {
    log(`fetching the pinned pex ${pinned.version} wheel and CLI (python3 tools/fixtures/fetch.py)`);
    await run('python3', [path.join(REPO, 'tools', 'fixtures', 'fetch.py')], { cwd: REPO });
  }
  if (!existsSync(pexWheel)) throw new Error(`tools/fixtures/fetch.py did not leave ${pinned.filename} in .cache/wheels`);
  return { pexBin, pexWheel, pexVersion: await version() };
}

/**
 * `pip download` of `requirements` (binary only, for this python3, pip's own configuration) into
 * `dir`, once: a marker file records what the directory holds.
 * @param {string} dir
 * @param {string[]} requirements
 * @param {string} pexWheel
 * @param {(line: string) => void} log
 */
async function downloadOnce(dir, requirements, pexWheel, log) {
  const marker = path.join(dir, '.complete');
  const want = JSON.stringify(requirements);
  if (existsSync(marker) && (await fs.readFile(marker, 'utf8')) === want) {
    await placePexWheel(dir, pexWheel);
    return;
  }
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  log(`pip download ${requirements.join(' ')} -> ${path.relative(REPO, dir)}`);
  await run('python3', ['-m', 'pip', 'download', '--quiet', '--only-binary=:all:', '--dest', dir, ...requirements], {
    timeoutMs: 15 * 60_000,
  });
  await placePexWheel(dir, pexWheel);
  await fs.writeFile(marker, want);
}

/**
 * nx-pex fetches its runtime (the pinned pex wheel) from the same index as everything else: the
 * served directory holds that wheel and no other pex.
 * @param {string} dir @param {string} pexWheel
 */
async function placePexWheel(dir, pexWheel) {
  const name = path.basename(pexWheel);
  for (const f of await fs.readdir(dir)) if (/^pex-.*\.whl$/.test(f) && f !== name) await fs.rm(path.join(dir, f));
  if (!existsSync(path.join(dir, name))) await fs.copyFile(pexWheel, path.join(dir, name));
}

/**
 * A uv-workspace-shaped project: pyproject.toml with a console script, and a src package whose
 * main imports the libraries. `edited.py` is the file the `edit` phase changes.
 * @param {string} dir
 * @param {string} name project name (`bench-small`)
 * @param {string[]} requirements
 * @param {string[]} imports
 * @param {string} body
 */
async function writeProject(dir, name, requirements, imports, body) {
  const pkg = moduleName(name);
  await fs.mkdir(path.join(dir, 'src', pkg), { recursive: true });
  const deps = requirements.map((r) => `    ${JSON.stringify(r)},`).join('\n');
  await fs.writeFile(
    path.join(dir, 'pyproject.toml'),
    [
      '[project]',
      `name = "${name}"`,
      'version = "0.1.0"',
      'requires-python = ">=3.11"',
      `dependencies = [\n${deps}\n]`,
      '',
      '[project.scripts]',
      `${name} = "${pkg}.main:main"`,
      '',
      '[build-system]',
      'requires = ["hatchling"]',
      'build-backend = "hatchling.build"',
      '',
      '[tool.hatch.build.targets.wheel]',
      `packages = ["src/${pkg}"]`,
      '',
    ].join('\n'),
  );
  await fs.writeFile(path.join(dir, 'src', pkg, '__init__.py'), '');
  await fs.writeFile(
    path.join(dir, 'src', pkg, 'main.py'),
    ['import json', ...imports.map((m) => `import ${m}`), '', `from . import edited`, '', '', 'def main():', body, ''].join('\n'),
  );
  await writeEdited(dir, name, 0);
}

/**
 * Give the project's `edited.py` a new content.
 * @param {string} dir @param {string} name @param {number} n
 */
function writeEdited(dir, name, n) {
  return fs.writeFile(path.join(dir, 'src', moduleName(name), 'edited.py'), `VALUE = ${n}\n`);
}

/** @param {string} s */
const q = (s) => JSON.stringify(s);

/**
 * `uv.lock` text (version 1, revision 3) for workspace members that depend directly on the given
 * distributions (and on the workspace members named in `workspaceDeps`), each from the index at
 * `indexUrl` with exactly one wheel.
 * @param {{ name: string, editable: string, requirements: string[], wheels: WheelFile[], workspaceDeps?: string[] }[]} members
 * @param {string} indexUrl `http://127.0.0.1:PORT/simple`
 */
function lockText(members, indexUrl) {
  const files = indexUrl.replace(/\/simple\/?$/, '/files/');
  /** @type {Map<string, WheelFile>} */
  const dists = new Map();
  for (const m of members) for (const w of m.wheels) dists.set(w.name, w);
  /** @type {[string, string][]} */
  const blocks = [];
  for (const m of members) {
    const deps = [...new Set([...m.wheels.map((w) => w.name), ...(m.workspaceDeps ?? [])])].sort();
    const reqs = m.requirements.map((r) => canonical(r)).sort();
    blocks.push([
      m.name,
      [
        '[[package]]',
        `name = ${q(m.name)}`,
        'version = "0.1.0"',
        `source = { editable = ${q(m.editable)} }`,
        'dependencies = [',
        ...deps.map((d) => `    { name = ${q(d)} },`),
        ']',
        '',
        '[package.metadata]',
        'requires-dist = [',
        ...reqs.map((r) => `    { name = ${q(r)} },`),
        ']',
      ].join('\n'),
    ]);
  }
  for (const w of dists.values()) {
    blocks.push([
      w.name,
      [
        '[[package]]',
        `name = ${q(w.name)}`,
        `version = ${q(w.version)}`,
        `source = { registry = ${q(indexUrl)} }`,
        'wheels = [',
        `    { url = ${q(files + encodeURIComponent(w.filename))}, hash = "sha256:${w.sha256}", size = ${w.size} },`,
        ']',
      ].join('\n'),
    ]);
  }
  blocks.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const head = ['version = 1', 'revision = 3', 'requires-python = ">=3.11"', ''];
  if (members.length > 1) head.push('[manifest]', 'members = [', ...members.map((m) => `    ${q(m.name)},`).sort(), ']', '');
  return head.join('\n') + '\n' + blocks.map((b) => b[1]).join('\n\n') + '\n';
}

/**
 * Resolve each closure with pip against `dir` only (no index): the wheels of each, by name.
 * Results are kept in `dir/.closures.json`.
 * @param {string} dir
 * @param {string[][]} closures
 * @param {WheelFile[]} wheels
 * @returns {Promise<WheelFile[][]>}
 */
async function resolveClosures(dir, closures, wheels) {
  const cacheFile = path.join(dir, '.closures.json');
  const key = JSON.stringify({ closures, wheels: wheels.map((w) => w.sha256) });
  try {
    const cached = JSON.parse(await fs.readFile(cacheFile, 'utf8'));
    if (cached.key === key) return cached.sets.map((/** @type {string[]} */ names) => names.map((n) => must(wheels, n)));
  } catch {}
  /** @type {string[][]} */
  const sets = [];
  for (const reqs of closures) {
    const report = path.join(dir, '.report.json');
    await run(
      'python3',
      ['-m', 'pip', 'install', '--quiet', '--dry-run', '--ignore-installed', '--only-binary=:all:', '--no-index', '--find-links', dir, '--report', report, ...reqs],
      { env: { ...process.env, PIP_FIND_LINKS: '', PIP_CONFIG_FILE: '/dev/null' } },
    );
    const { install } = JSON.parse(await fs.readFile(report, 'utf8'));
    sets.push(install.map((/** @type {any} */ i) => canonical(i.metadata.name)).sort());
    await fs.rm(report);
  }
  await fs.writeFile(cacheFile, JSON.stringify({ key, sets }));
  return sets.map((names) => names.map((n) => must(wheels, n)));
}

/** @param {WheelFile[]} wheels @param {string} name */
function must(wheels, name) {
  const w = wheels.find((x) => x.name === name);
  if (!w) throw new Error(`pip resolved ${name}, but no wheel of it was downloaded`);
  return w;
}

module.exports = {
  REPO,
  CACHE,
  CASES,
  SCALE_CLOSURES,
  canonical,
  moduleName,
  listWheels,
  ensurePex,
  downloadOnce,
  writeProject,
  writeEdited,
  lockText,
  resolveClosures,
};
