/**
 * A wheel installed into a venv by `installWheelVenv` against pip's install of the same wheel
 * into a real venv (`python3 -m venv`, `pip install --no-deps`): the same files at the same
 * paths (site-packages, `.data` scripts, headers and data, console scripts), the same bytes for
 * everything pip copies as it is, shebangs naming the venv's python, and a RECORD that lists
 * every installed file with its hash.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, lstatSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { itWith } from '@nx-pex/testkit';
import { installWheelVenv, readWheel } from '../src';
import { cleanupTempDirs, makeWheelFrom, run, tempDir } from './support';

afterAll(cleanupTempDirs);

const DIST = 'fancy_tool-1.2.dist-info';
const DATA = 'fancy_tool-1.2.data';

async function fixture(dir: string) {
  return makeWheelFrom(dir, 'fancy_tool-1.2-py3-none-any.whl', [
    { name: 'fancy_tool/__init__.py', data: 'def main():\n    print("fancy")\n' },
    { name: 'fancy_tool/data/table.csv', data: 'a,b\n1,2\n' },
    { name: 'fancy_tool-init.pth', data: 'import sys\n' },
    { name: `${DATA}/scripts/fancy-shell`, data: '#!/bin/sh\necho shell\n', mode: 0o100755 },
    { name: `${DATA}/scripts/fancy-py`, data: '#!python\nprint("py")\n', mode: 0o100755 },
    { name: `${DATA}/headers/fancy.h`, data: '#define FANCY 1\n' },
    { name: `${DATA}/data/share/fancy/readme.txt`, data: 'shared data\n' },
    { name: `${DATA}/purelib/fancy_extra.py`, data: 'X = 1\n' },
    { name: `${DIST}/METADATA`, data: 'Metadata-Version: 2.1\nName: fancy-tool\nVersion: 1.2\n' },
    { name: `${DIST}/WHEEL`, data: 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
    { name: `${DIST}/entry_points.txt`, data: '[console_scripts]\nfancy = fancy_tool:main\n[gui_scripts]\nfancy-gui = fancy_tool:main\n' },
  ]);
}

function filesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() && !lstatSync(join(dir, e.name)).isSymbolicLink() ? filesBelow(join(dir, e.name), rel) : [rel];
  });
}

itWith(['pip'], 'lays a wheel out in a venv as pip does', async () => {
  const dir = await tempDir('nx-pex-venv-install-');
  const wheel = await fixture(join(dir, 'wheels'));
  const venv = join(dir, 'venv');
  run('python3', ['-m', 'venv', '--without-pip', venv]).check();
  const version = run(join(venv, 'bin', 'python'), ['-c', 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")']).check().trim();
  // pip of the host, installing into the venv as its own pip would (the venv's install scheme).
  run('python3', ['-m', 'pip', '--python', join(venv, 'bin', 'python'), 'install', '--no-deps', '--no-compile', '--no-index', '--disable-pip-version-check', wheel.path]).check();

  const ours = installWheelVenv(await readWheel(readFileSync(wheel.path), wheel.path, wheel.filename), { venv, python: `python${version}` });
  const sp = `lib/python${version}/site-packages`;
  // What pip adds beside the wheel's files: its own bookkeeping.
  const pipOnly = new Set([`${sp}/${DIST}/REQUESTED`, `${sp}/${DIST}/direct_url.json`]);
  const pipFiles = filesBelow(venv)
    .filter((p) => !p.startsWith('bin/python') && !p.startsWith('bin/activate') && !p.startsWith('bin/Activate') && p !== 'pyvenv.cfg' && p !== 'lib64' && !pipOnly.has(p) && !p.includes('__pycache__'))
    .sort();
  expect([...ours.keys()].sort()).toEqual(pipFiles);

  for (const path of pipFiles) {
    const mine = ours.get(path)!;
    const theirs = readFileSync(join(venv, path));
    if (path.startsWith('bin/')) {
      expect({ path, executable: mine.executable }).toEqual({ path, executable: (statSync(join(venv, path)).mode & 0o111) !== 0 });
      const first = mine.data.toString('utf8').split('\n')[0];
      // A script pip rewrote points at the venv's python, and so does ours; one it did not rewrite is copied as is.
      if (theirs.toString('utf8').startsWith('#!/bin/sh')) expect(mine.data.equals(theirs)).toBe(true);
      else expect(first).toBe(`#!${venv}/bin/python`);
    } else if (path.endsWith('/RECORD') || path.endsWith('/INSTALLER')) {
      continue;
    } else {
      expect({ path, same: mine.data.equals(theirs) }).toEqual({ path, same: true });
    }
  }
  // The RECORD names every installed file (relative to site-packages) with its sha256, and itself without one.
  const record = ours.get(`${sp}/${DIST}/RECORD`)!.data.toString('utf8').trim().split('\n').map((l) => l.split(','));
  expect(record.map((r) => r[0]).sort()).toEqual([...ours.keys()].map((p) => relative(sp, p)).sort());
  for (const [p, hash, size] of record) {
    if (p === `${DIST}/RECORD`) {
      expect([hash, size]).toEqual(['', '']);
      continue;
    }
    const data = ours.get(join(sp, p!).replace(/^\.\//, ''))!.data;
    expect(hash).toBe(`sha256=${createHash('sha256').update(data).digest('base64url')}`);
    expect(Number(size)).toBe(data.length);
  }
  // INSTALLER names the installer, as the spec asks.
  expect(ours.get(`${sp}/${DIST}/INSTALLER`)!.data.toString()).toBe('nx-pex\n');
});
