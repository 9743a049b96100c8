#!/usr/bin/env node
/**
 * `npm run compat`: the Nx compatibility matrix (plugins/nx-pex/test/compat/*.compat.ts): nx-pex
 * published to a local registry and added with `nx add` to a new workspace of each supported Nx
 * major, then built, synced and checked with `nx affected`. Slow (it installs workspaces from
 * npm), so it is not part of `npm test`; .ci/run calls it. Prints how long it took.
 *
 * Usage: npm run compat [-- --majors 22,23]   (needs `npm run build` first; .ci/run's npm test does it)
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const REPO = join(__dirname, '..', '..');
const args = process.argv.slice(2);
const env = { ...process.env };
const at = args.indexOf('--majors');
if (at >= 0) env.NX_PEX_COMPAT_MAJORS = args[at + 1];

const started = Date.now();
const jest = spawnSync(
  process.execPath,
  [require.resolve('jest/bin/jest', { paths: [REPO] }), '--runInBand', '--testMatch', '**/test/compat/*.compat.ts', '--testPathIgnorePatterns', '/node_modules/'],
  { cwd: REPO, env, stdio: 'inherit' },
);
const seconds = Math.round((Date.now() - started) / 1000);
console.log(`compat: Nx matrix (${env.NX_PEX_COMPAT_MAJORS ?? '22,23,24'}) took ${Math.floor(seconds / 60)} min ${seconds % 60} s`);
process.exit(jest.status ?? 1);
