#!/usr/bin/env node
/**
 * The `resolve` bench: the same requirement sets resolved by nx-pex's resolver, by pip
 * (`pip install --dry-run --report`) and by uv (`uv pip compile`, when .cache/uv-venv has it), all
 * from one local index on 127.0.0.1 serving the project pages and PEP 658 metadata that the pip
 * comparison test uses (packages/resolver/test/oracle), cold (empty caches) and warm.
 *
 *   node tools/bench/resolve.js [--runs N] [--sets a,b]
 *
 * Each tool runs as its own process, as a user would run it. nx-pex keeps no index cache between
 * runs, so its cold and warm runs do the same work. pip takes part only with NX_PEX_BENCH_PIP=1
 * and a pip that resolves from PEP 658 metadata alone: pip 23.2 downloads the chosen wheels even
 * in a dry run, and this index serves metadata, not wheels.
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const REPO = path.resolve(__dirname, '..', '..');
require('@swc-node/register');
const { readOracleData, serveMetadata } = require(path.join(REPO, 'packages/resolver/test/oracle-server.ts'));

const DEFAULT_SETS = ['requests', 'fastapi-uvicorn', 'dagster', 'jupyter', 'boto3-old-botocore', 'fastapi-pydantic1'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs a command (the index is served by this process, so never synchronously) and returns its wall time in ms. */
function time(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: opts.env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(opts.input ?? '');
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${stderr.slice(-2000)}`));
      else resolve(ms);
    });
  });
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, sets: { type: 'string' } } });
  const runs = Number(values.runs ?? 3);
  const sets = JSON.parse(fs.readFileSync(path.join(REPO, 'packages/resolver/test/oracle/sets.json'), 'utf8'));
  const wanted = (values.sets ? values.sets.split(',') : DEFAULT_SETS).map((id) => sets.find((s) => s.id === id) ?? Promise.reject(new Error(`no set ${id}`)));
  const server = await serveMetadata(readOracleData());
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nx-pex-bench-resolve-'));
  const env = { ...process.env, PIP_FIND_LINKS: '', PIP_INDEX_URL: server.url, PIP_DISABLE_PIP_VERSION_CHECK: '1', UV_NO_CONFIG: '1' };
  delete env.PIP_EXTRA_INDEX_URL;
  const uv = path.join(REPO, '.cache/uv-venv/bin/uv');
  const haveUv = fs.existsSync(uv);
  const runner = path.join(__dirname, 'resolve-run.js');
  const tools = {
    'nx-pex': (reqs) => ['node', [runner, server.url, ...reqs]],
    ...(process.env.NX_PEX_BENCH_PIP ? { pip: (reqs, cache) => ['python3', ['-m', 'pip', 'install', '--dry-run', '-q', '--report', '/dev/null', '--only-binary', ':all:', '--ignore-installed', '--index-url', server.url, '--cache-dir', cache, ...reqs]] } : {}),
    ...(haveUv ? { uv: (reqs, cache) => [uv, ['pip', 'compile', '-', '-q', '--no-header', '--only-binary', ':all:', '--index-url', server.url, '--python', 'python3', '--cache-dir', cache], { input: reqs.join('\n') }] } : {}),
  };
  const rows = [];
  try {
    for (const set of wanted) {
      for (const phase of ['cold', 'warm']) {
        const stat = {};
        for (const [tool, make] of Object.entries(tools)) {
          const times = [];
          const warmCache = path.join(scratch, `${tool}-${set.id}-warm`);
          if (phase === 'warm') {
            const [cmd, args, extra] = make(set.reqs, warmCache);
            await time(cmd, args, { env, ...(extra ?? {}) }); // fill the cache
          }
          for (let i = 0; i < runs; i++) {
            const cache = phase === 'warm' ? warmCache : path.join(scratch, `${tool}-${set.id}-cold-${i}`);
            const [cmd, args, extra] = make(set.reqs, cache);
            times.push(await time(cmd, args, { env, ...(extra ?? {}) }));
          }
          stat[tool] = { median: median(times), min: Math.min(...times), max: Math.max(...times) };
        }
        const row = { set: set.id, phase, ...Object.fromEntries(Object.entries(stat).map(([k, v]) => [k, Math.round(v.median)])) };
        if (stat.pip) row['pip/nx-pex'] = +(stat.pip.median / stat['nx-pex'].median).toFixed(1);
        if (stat.uv) row['uv/nx-pex'] = +(stat.uv.median / stat['nx-pex'].median).toFixed(2);
        rows.push(row);
        process.stderr.write(`${JSON.stringify(row)}\n`);
      }
    }
  } finally {
    await server.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const out = path.join(REPO, 'dist/bench');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'resolve.json'), `${JSON.stringify({ runs, machine: { cpus: os.cpus().length, node: process.version }, rows }, null, 1)}\n`);
  const havePip = 'pip' in tools;
  const cols = ['set', 'phase', 'nx-pex', ...(havePip ? ['pip'] : []), ...(haveUv ? ['uv'] : []), ...(havePip ? ['pip/nx-pex'] : []), ...(haveUv ? ['uv/nx-pex'] : [])];
  console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => (typeof r[c] === 'number' && !c.includes('/') ? `${r[c]} ms` : c.includes('/') ? `${r[c]}×` : r[c])).join(' | ')} |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
