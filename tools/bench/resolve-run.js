'use strict';
/** One resolution by nx-pex's resolver, as a process: `node resolve-run.js INDEX_URL REQ...` (for tools/bench/resolve.js). */
const path = require('node:path');
const REPO = path.resolve(__dirname, '..', '..');
const { IndexClient } = require(path.join(REPO, 'packages/index/dist'));
const { resolve } = require(path.join(REPO, 'packages/resolver/dist'));
const { probeInterpreterCached, targetFromInterpreter } = require(path.join(REPO, 'packages/pep/dist'));

(async () => {
  const [indexUrl, ...reqs] = process.argv.slice(2);
  const cacheDir = path.join(require('node:os').tmpdir(), 'nx-pex-bench-interpreters');
  const target = targetFromInterpreter(await probeInterpreterCached('python3', { cacheDir }));
  const client = new IndexClient({ indexUrl, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] });
  try {
    const r = await resolve(reqs, { client, target, formats: { onlyBinary: [':all:'] } });
    if (process.env.NX_PEX_BENCH_PRINT) for (const p of r.packages) console.log(`${p.name}==${p.version}`);
  } finally {
    await client.close();
  }
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
