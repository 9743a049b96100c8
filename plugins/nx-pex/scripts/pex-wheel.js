#!/usr/bin/env node
/**
 * Puts the pinned pex wheel into `pex/` of the package, checked against the sha256 nx-pex pins,
 * so that builds take the pex runtime from the installed package instead of an index. The wheel
 * comes from the repository's test cache (`.cache/wheels`) when it is there, else from pip's
 * configured index (`python3 -m pip download`, so pip's mirrors and certificates apply). It is
 * never committed.
 *
 * Usage: node scripts/pex-wheel.js [--require]
 *   --require  fail when the wheel cannot be had (when making the package); without it, only warn.
 */
'use strict';
const { createHash } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const PLUGIN = join(__dirname, '..');
const REPO = join(PLUGIN, '..', '..');
const { PINNED_PEX } = require(join(PLUGIN, 'lib', 'engine.js'));
const required = process.argv.includes('--require');
const dest = join(PLUGIN, 'pex', PINNED_PEX.filename);

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

function fail(message) {
  process.stderr.write(`nx-pex pex-wheel: ${message}\n`);
  process.exit(required ? 1 : 0);
}

function candidate() {
  const cached = join(REPO, '.cache', 'wheels', PINNED_PEX.filename);
  if (existsSync(cached)) return { path: cached, cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'nx-pex-wheel-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync(
      process.env.PYTHON ?? 'python3',
      ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', '--dest', dir, `pex==${PINNED_PEX.version}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (err) {
    cleanup();
    fail(`pip could not download pex ${PINNED_PEX.version}: ${String(err.stderr ?? err.message).trim().split('\n').pop()}`);
  }
  return { path: join(dir, PINNED_PEX.filename), cleanup };
}

function main() {
  if (existsSync(dest) && sha256(dest) === PINNED_PEX.sha256) return;
  const { path, cleanup } = candidate();
  try {
    if (!existsSync(path)) fail(`pip did not give ${PINNED_PEX.filename}`);
    const actual = sha256(path);
    if (actual !== PINNED_PEX.sha256) fail(`${PINNED_PEX.filename} has sha256 ${actual}, expected ${PINNED_PEX.sha256}`);
    mkdirSync(join(PLUGIN, 'pex'), { recursive: true });
    const tmp = `${dest}.${process.pid}.tmp`;
    copyFileSync(path, tmp);
    renameSync(tmp, dest);
  } finally {
    cleanup();
  }
}

main();
