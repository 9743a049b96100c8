#!/usr/bin/env node
/**
 * Packs the nx-pex npm package (this folder, plugins/nx-pex) with `npm pack` and prints what it
 * made: the tarball, its packed and unpacked size and the largest files, as npm measured them.
 * These numbers are never written by hand anywhere: run this to know them for a given commit.
 *
 * Usage: node plugins/nx-pex/scripts/pack.js [--destination DIR] [--dry-run] [--json]
 *   (`npm run pack-sizes` at the repository root is `--dry-run`: the sizes without the tarball.)
 */
'use strict';
const { execFileSync } = require('node:child_process');
const { join, resolve } = require('node:path');

const PLUGIN = join(__dirname, '..');

function mb(n) {
  return `${(n / 1e6).toFixed(1)} MB`;
}
function kb(n) {
  return n >= 1e6 ? mb(n) : `${(n / 1e3).toFixed(1)} kB`;
}

/** The lines printed for one `npm pack --json` entry. */
function describePack(info, destination) {
  const files = [...info.files].sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1));
  return [
    `${destination ? `${join(destination, info.filename)}` : info.filename}: ${info.name}@${info.version}`,
    `packed ${mb(info.size)}, unpacked ${mb(info.unpackedSize)}, ${info.entryCount} files`,
    ...files.slice(0, 5).map((f) => `  ${f.path} ${kb(f.size)}`),
  ];
}

function main(argv) {
  const dryRun = argv.includes('--dry-run');
  const json = argv.includes('--json');
  const at = argv.indexOf('--destination');
  const destination = at >= 0 ? resolve(argv[at + 1]) : dryRun ? undefined : process.cwd();
  const args = ['pack', '--json', ...(dryRun ? ['--dry-run'] : ['--pack-destination', destination])];
  // npm pack runs the package's prepack (the bundle and the checked pex wheel); their output goes to stderr.
  const out = execFileSync('npm', args, { cwd: PLUGIN, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  const [info] = JSON.parse(out.slice(out.indexOf('[')));
  if (json) {
    const index = info.files.find((f) => f.path === 'lib/index.js');
    process.stdout.write(`${JSON.stringify({ tarball: destination ? join(destination, info.filename) : info.filename, packed: info.size, unpacked: info.unpackedSize, files: info.entryCount, libIndex: index ? index.size : null })}\n`);
  } else {
    process.stdout.write(`${describePack(info, destination).join('\n')}\n`);
  }
}

if (require.main === module) main(process.argv.slice(2));
module.exports = { describePack };
