// @ts-check
'use strict';
/**
 * The `resolve` case: the same requirement sets resolved by nx-pex (`nx-pex lock`, as a user runs
 * it), by pip (`pip install --dry-run --ignore-installed --report`) and by uv (`uv pip compile`),
 * each as its own process, from one local index on 127.0.0.1 that serves the project pages and
 * PEP 658 metadata of the pip comparison test (packages/resolver/test/oracle), with PyPI's caching
 * headers. Cold: each tool's caches empty (nx-pex's store, which also holds its interpreter probe;
 * pip's and uv's cache directories). Warm: the caches of a previous run of the same set.
 *
 * pip is the newest pip in .cache/pip-venv (made here when missing or older than 25.3, the first
 * release that resolves a dry run from PEP 658 metadata without downloading the wheels, pip PR
 * #13482); every pip run is checked to have fetched no wheel. The index also serves a wheel
 * synthesised from each release's metadata and lists its sha256 and size as PyPI does, because
 * a lock records them (nx-pex reads them from the page, as from PyPI, and downloads nothing).
 */
const { existsSync } = require('node:fs');
const fs = require('node:fs/promises');
const path = require('node:path');
const { run } = require('./proc');
const { REPO, CACHE } = require('./inputs');
const { fmtMs, fmtRatio, fmtStat, textTable } = require('./report');

const SETS = ['requests', 'fastapi-uvicorn', 'dagster', 'jupyter', 'boto3-old-botocore', 'fastapi-pydantic1'];
const QUICK_SETS = ['requests', 'dagster'];
const PIP_VENV = path.join(REPO, '.cache', 'pip-venv');
const UV = path.join(REPO, '.cache', 'uv-venv', 'bin', 'uv');
/** The `nx-pex` command as npm installs it (the bin, which runs the bundled lib/cli.js). */
const BIN = path.join(REPO, 'plugins', 'nx-pex', 'bin', 'nx-pex.js');
/** The first pip whose `install --dry-run` takes PEP 658 metadata without downloading wheels. */
const PIP_MIN = [25, 3];

/**
 * @typedef {{ log: (line: string) => void, PYTHON: string,
 *   childEnv: (indexUrl: string, extra?: Record<string, string>) => NodeJS.ProcessEnv,
 *   measure: (tools: any[], runs: number, warmup: boolean) => Promise<Record<string, import('./report').Stat>> }} Helpers
 * @typedef {{ set: string, requirements: string[], phase: string, packages: number, agree: string,
 *   tools: Record<string, import('./report').Stat>, ratio: Record<string, number> }} ResolveRow
 */

/** pip in .cache/pip-venv, at least 25.3 (the newest on the index when it is made). @param {(line: string) => void} log @param {string} python */
async function ensurePip(log, python) {
  const pip = path.join(PIP_VENV, 'bin', 'pip');
  const version = async () => {
    if (!existsSync(pip)) return undefined;
    const r = await run(pip, ['--version'], { allowFailure: true });
    const m = /^pip (\d+)\.(\d+)/.exec(r.stdout);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  };
  const recent = (/** @type {number[] | undefined} */ v) => !!v && (v[0] > PIP_MIN[0] || (v[0] === PIP_MIN[0] && v[1] >= PIP_MIN[1]));
  if (!recent(await version())) {
    log(`installing the newest pip into ${path.relative(REPO, PIP_VENV)} (a dry run from PEP 658 metadata alone needs pip ≥ ${PIP_MIN.join('.')})`);
    await run(python, ['-m', 'venv', '--clear', PIP_VENV]);
    await run(path.join(PIP_VENV, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--upgrade', 'pip'], { timeoutMs: 5 * 60_000 });
    const v = await version();
    if (!recent(v)) throw new Error(`${pip} is ${v ? v.join('.') : 'missing'} after the upgrade; the resolve case needs pip ≥ ${PIP_MIN.join('.')}`);
  }
  return { pip, version: (await run(pip, ['--version'])).stdout.split(' ')[1] };
}

/** `name==version` lines, sorted. @param {Iterable<[string, string]>} pins */
const pinList = (pins) => [...pins].map(([n, v]) => `${n.toLowerCase().replace(/[-_.]+/g, '-')}==${v}`).sort();

/**
 * @param {{ runs: number, quick: boolean, warmup: boolean, phases: string[] }} opts
 * @param {Helpers} h
 */
async function benchResolve(opts, h) {
  // The oracle index is TypeScript test code: compiled on the fly, as jest does.
  require('@swc-node/register');
  const { readOracleData, serveMetadata } = require(path.join(REPO, 'packages', 'resolver', 'test', 'oracle-server.ts'));
  /** @type {{ id: string, reqs: string[] }[]} */
  const allSets = JSON.parse(await fs.readFile(path.join(REPO, 'packages', 'resolver', 'test', 'oracle', 'sets.json'), 'utf8'));
  const sets = (opts.quick ? QUICK_SETS : SETS).map((id) => {
    const s = allSets.find((x) => x.id === id);
    if (!s) throw new Error(`resolve: no requirement set "${id}" in packages/resolver/test/oracle/sets.json`);
    return s;
  });
  const { pip, version: pipVersion } = await ensurePip(h.log, h.PYTHON);
  const haveUv = existsSync(UV);
  const uvVersion = haveUv ? (await run(UV, ['--version'])).stdout.trim().split(' ')[1] : undefined;
  if (!haveUv) h.log('resolve: no uv in .cache/uv-venv (tools/fixtures/fetch.py installs it); uv is left out');

  const server = await serveMetadata(readOracleData(), { wheels: true });
  const root = path.join(CACHE, 'resolve');
  const env = h.childEnv(server.url, { UV_NO_CONFIG: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', UV_PYTHON_DOWNLOADS: 'never' });
  /** @type {ResolveRow[]} */
  const rows = [];
  try {
    for (const set of sets) {
      const dir = path.join(root, set.id);
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true });
      const reqFile = path.join(dir, 'requirements.in');
      await fs.writeFile(reqFile, `${set.reqs.join('\n')}\n`);
      const out = { 'nx-pex': path.join(dir, 'pylock.toml'), pip: path.join(dir, 'pip-report.json'), uv: path.join(dir, 'uv.txt') };
      const caches = { 'nx-pex': path.join(dir, 'store'), pip: path.join(dir, 'pip-cache'), uv: path.join(dir, 'uv-cache') };
      /** @type {Record<string, string[]>} */
      const answers = {};
      const tool = (/** @type {'nx-pex' | 'pip' | 'uv'} */ name, /** @type {string} */ phase, /** @type {[string, string[]]} */ [cmd, args], /** @type {() => Promise<string[]>} */ read) => {
        let requestsBefore = 0;
        return {
          name,
          before: async () => {
            if (phase === 'cold') await fs.rm(caches[name], { recursive: true, force: true });
            await fs.rm(out[name], { force: true });
            requestsBefore = server.requests.length;
          },
          run: () => run(cmd, args, { env, timeoutMs: 5 * 60_000 }),
          check: async () => {
            const wheels = server.requests.slice(requestsBefore).filter((/** @type {string} */ p) => p.endsWith('.whl'));
            if (wheels.length) throw new Error(`resolve ${set.id}: ${name} downloaded ${wheels.length} wheel(s) (${wheels[0]}); a resolve reads metadata only`);
            answers[name] ??= await read();
          },
        };
      };
      for (const phase of opts.phases.filter((p) => p === 'cold' || p === 'warm')) {
        const tools = [
          tool('nx-pex', phase, [process.execPath, [BIN, 'lock', ...set.reqs, '-o', out['nx-pex'], '--store', caches['nx-pex'], '--python', h.PYTHON, '-i', server.url, '--no-pypi', '--only-binary', ':all:', '-q']], async () => {
            const text = await fs.readFile(out['nx-pex'], 'utf8');
            return pinList([...text.matchAll(/^\[\[packages\]\]\nname = "([^"]+)"\nversion = "([^"]+)"/gm)].map((m) => /** @type {[string, string]} */ ([m[1], m[2]])));
          }),
          tool('pip', phase, [pip, ['install', '--dry-run', '--ignore-installed', '--report', out.pip, '--only-binary', ':all:', '-q', '--index-url', server.url, '--cache-dir', caches.pip, ...set.reqs]], async () => {
            const report = JSON.parse(await fs.readFile(out.pip, 'utf8'));
            return pinList(report.install.map((/** @type {any} */ i) => [i.metadata.name, i.metadata.version]));
          }),
          ...(haveUv
            ? [
                tool('uv', phase, [UV, ['pip', 'compile', reqFile, '-q', '--no-header', '--no-annotate', '--only-binary', ':all:', '--index-url', server.url, '--python', h.PYTHON, '--cache-dir', caches.uv, '-o', out.uv]], async () => {
                  const text = await fs.readFile(out.uv, 'utf8');
                  return pinList([...text.matchAll(/^([A-Za-z0-9._-]+)==(\S+)/gm)].map((m) => /** @type {[string, string]} */ ([m[1], m[2]])));
                }),
              ]
            : []),
        ];
        // Warm: each tool's caches as its previous run of this set left them (the warm-up fills them).
        h.log(`resolve ${set.id} ${phase}: ${tools.map((t) => t.name).join(', ')} × ${opts.runs}${opts.warmup || phase === 'warm' ? ' after a warm-up' : ''}`);
        const stats = await h.measure(tools, opts.runs, opts.warmup || phase === 'warm');
        const base = stats['nx-pex'].median;
        /** @type {Record<string, number>} */
        const ratio = { 'pip/nx-pex': stats.pip.median / base };
        if (stats.uv) ratio['uv/nx-pex'] = stats.uv.median / base;
        const ours = answers['nx-pex'] ?? [];
        const differs = Object.entries(answers).filter(([k, v]) => k !== 'nx-pex' && v.join('\n') !== ours.join('\n')).map(([k]) => k);
        rows.push({ set: set.id, requirements: set.reqs, phase, packages: ours.length, agree: differs.length ? `differs from ${differs.join(', ')}` : 'same', tools: stats, ratio });
        h.log(`resolve ${set.id} ${phase}: ${Object.entries(stats).map(([k, s]) => `${k} ${fmtMs(s.median)}`).join(', ')}`);
        if (differs.length) {
          for (const k of differs) {
            const theirs = new Set(answers[k]);
            const mine = new Set(ours);
            h.log(`resolve ${set.id}: nx-pex and ${k} differ: only nx-pex ${ours.filter((x) => !theirs.has(x)).join(' ') || '-'}; only ${k} ${answers[k].filter((x) => !mine.has(x)).join(' ') || '-'}`);
          }
        }
      }
    }
  } finally {
    await server.close();
  }
  return { rows, pipVersion, uvVersion };
}

/** @param {{ rows: ResolveRow[], pipVersion: string, uvVersion?: string }} r */
function resolveReport(r) {
  const header = ['set', 'phase', 'packages', 'nx-pex lock', `pip ${r.pipVersion}`, `uv ${r.uvVersion ?? '(absent)'}`, 'pip/nx-pex', 'uv/nx-pex', 'same pins'];
  const rows = r.rows.map((x) => [
    x.set,
    x.phase,
    String(x.packages),
    fmtStat(x.tools['nx-pex']),
    fmtStat(x.tools.pip),
    fmtStat(x.tools.uv),
    fmtRatio(x.ratio['pip/nx-pex']),
    fmtRatio(x.ratio['uv/nx-pex']),
    x.agree,
  ]);
  /** @type {{ target: string, measured: string, met: boolean }[]} */
  const checks = [];
  for (const x of r.rows) {
    const pipRatio = x.ratio['pip/nx-pex'];
    checks.push({ target: `resolve ${x.set} ${x.phase}: nx-pex ≥ 10× faster than pip`, measured: fmtRatio(pipRatio), met: pipRatio >= 10 });
    if (x.phase === 'warm' && x.tools.uv) {
      checks.push({
        target: `resolve ${x.set} warm: nx-pex no slower than uv`,
        measured: `${fmtMs(x.tools['nx-pex'].median)} vs ${fmtMs(x.tools.uv.median)}`,
        met: x.tools['nx-pex'].median <= x.tools.uv.median,
      });
    }
  }
  return { header, rows, lines: [textTable(header, rows)], checks };
}

module.exports = { benchResolve, resolveReport };
