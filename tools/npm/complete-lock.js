#!/usr/bin/env node
/**
 * Adds to package-lock.json the platform-specific optional packages (native binaries of nx, swc,
 * ...) for platforms other than this one, when the registry this machine reaches does not serve
 * them and `npm install` therefore left them out. Without those entries `npm ci` refuses the lock
 * ("Missing: @swc/core-darwin-arm64@ from lock file"). Each entry is marked optional with the os,
 * cpu and libc its name states, so npm skips it on other platforms and fetches it by version on
 * its own. Run after `npm install` changes the lock: `node tools/npm/complete-lock.js`.
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const file = join(__dirname, '..', '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openharmony'];
const CPU = [
  ['arm64', 'arm64'], ['aarch64', 'arm64'], ['x64', 'x64'], ['ia32', 'ia32'], ['arm', 'arm'],
  ['ppc64', 'ppc64'], ['s390x', 's390x'], ['loong64', 'loong64'], ['riscv64', 'riscv64'],
];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpuPart = parts.find((p) => CPU.some(([k]) => k === p));
  if (!os || !cpuPart) return undefined;
  const entry = { os: [os], cpu: [CPU.find(([k]) => k === cpuPart)[1]] };
  if (os === 'linux') {
    if (parts.some((p) => p.startsWith('musl'))) entry.libc = ['musl'];
    else if (parts.some((p) => p.startsWith('gnu'))) entry.libc = ['glibc'];
  }
  return entry;
}

let added = 0;
for (const [key, pkg] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = key === '' ? '' : `${key}/`;
    const candidates = [`${base}node_modules/${dep}`, `node_modules/${dep}`];
    if (candidates.some((c) => packages[c])) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(version)) continue;
    packages[`node_modules/${dep}`] = { version, optional: true, ...platform };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`complete-lock: added ${added} optional platform packages to package-lock.json`);
