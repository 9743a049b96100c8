import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { targetFromInterpreter, versionSatisfies, type InterpreterInfo } from '@nx-pex/pep';
import {
  evaluateLockMarker,
  generatedPylockBodyHash,
  generatedPylockHeader,
  generatedPylockText,
  lockClosure,
  parsePylock,
  parseUvLock,
  projectPylock,
  pylockClosure,
  type Pylock,
  type PylockPackage,
} from '@nx-pex/lock';
import { describeWith, uvBinary } from '@nx-pex/testkit';
import { FIXTURES } from './helpers';

const REPO = join(__dirname, '..', '..', '..');
const UV_ANSWERS = join(FIXTURES, 'pylock', 'uv-export');

/** [fixture, project, directory of its pylock.toml]: the answers of `uv export` kept in fixtures/pylock/uv-export. */
const CASES: Array<[string, string, string]> = [
  ['simple', 'hello-app', '.'],
  ['extras', 'web-api', '.'],
  ['conflicts', 'conflicted', '.'],
  ['sources', 'sourcy', '.'],
  ['workspace', 'lib-core', '.'],
  ['workspace', 'monorepo', '.'],
  ['workspace', 'svc-a', '.'],
  ['workspace', 'tools-cli', '.'],
  ['example', 'service-a', 'services/service-a'],
  ['example', 'service-b', 'services/service-b'],
  ['example', 'greeting', 'libs/greeting'],
];

function lockDirOf(fixture: string): string {
  return fixture === 'example' ? join(REPO, 'examples') : join(FIXTURES, fixture);
}

function uvLock(fixture: string) {
  const path = join(lockDirOf(fixture), 'uv.lock');
  return parseUvLock(readFileSync(path, 'utf8'), path);
}

/** What must agree with uv: each package, its version or directory, and every file with its sha256. */
function identity(p: PylockPackage): string {
  const files = [...(p.sdist ? [p.sdist] : []), ...p.wheels, ...(p.archive ? [p.archive] : [])]
    .map((a) => `${a.filename}:${a.url ?? a.path}:${a.sha256}:${a.size ?? ''}`)
    .sort();
  const where = p.directory ? `dir ${p.directory.path}` : p.vcs ? `vcs ${p.vcs.url}@${p.vcs.commitId}` : `index ${p.index ?? ''}`;
  return `${p.name} ${p.version ?? ''} ${where} [${files.join(' ')}]`;
}

/** Environments on which markers are compared: CPython and PyPy, 3.8 to 3.15, Linux, macOS, Windows, Cygwin. */
function environments() {
  const out = [];
  const base = JSON.parse(readFileSync(join(FIXTURES, 'interpreters.json'), 'utf8')).cp311 as InterpreterInfo;
  for (const minor of [8, 9, 10, 11, 12, 13, 14, 15]) {
    for (const [sys, system, os] of [['linux', 'Linux', 'posix'], ['darwin', 'Darwin', 'posix'], ['win32', 'Windows', 'nt'], ['cygwin', 'CYGWIN_NT', 'posix']]) {
      for (const impl of ['CPython', 'PyPy']) {
        const env = {
          ...base.markerEnvironment,
          python_version: `3.${minor}`,
          python_full_version: `3.${minor}.1`,
          sys_platform: sys,
          platform_system: system,
          os_name: os,
          platform_python_implementation: impl,
          implementation_name: impl.toLowerCase(),
        };
        out.push({ ...targetFromInterpreter({ ...base, markerEnvironment: env }), markerEnvironment: env });
      }
    }
  }
  return out;
}

describe('per-project pylock.toml from a uv.lock', () => {
  const envs = environments();

  it.each(CASES)('%s / %s: the same packages, files and markers as `uv export`', (fixture, project, dir) => {
    const ours = projectPylock(uvLock(fixture), project, { outputDir: dir, lockDir: '.' });
    const uv = parsePylock(readFileSync(join(UV_ANSWERS, `${fixture}-${project}.toml`), 'utf8'), 'uv');
    expect(ours.packages.map(identity).sort()).toEqual(uv.packages.map(identity).sort());
    expect(ours.requiresPython).toEqual(uv.requiresPython);
    // And they hold on the same environments.
    const uvMarkers = new Map(uv.packages.map((p) => [`${p.name} ${p.version}`, p.marker]));
    for (const p of ours.packages) {
      const theirs = uvMarkers.get(`${p.name} ${p.version}`);
      // Simplified as uv simplifies them (nx-pex quotes with ", uv with ').
      expect([p.name, p.marker?.replace(/"/g, "'")]).toEqual([p.name, theirs]);
      for (const target of envs) {
        const a = p.marker === undefined || evaluateLockMarker(p.marker, target);
        const b = theirs === undefined || evaluateLockMarker(theirs, target);
        if (a !== b) throw new Error(`${p.name} ${p.version}: marker '${p.marker}' and uv's '${theirs}' differ on ${target.markerEnvironment.sys_platform} ${target.markerEnvironment.python_full_version} ${target.markerEnvironment.platform_python_implementation}`);
      }
    }
  });

  it('installs, on each environment, exactly what the uv.lock closure gives there', () => {
    let compared = 0;
    for (const [fixture, project, dir] of CASES.filter(([f, p]) => f !== 'conflicts' && p !== 'monorepo')) {
      const lock = uvLock(fixture);
      const pylock = parsePylock(generatedPylockText(lock, project, { outputDir: dir, lockDir: '.' }), 'pylock.toml');
      for (const target of envs) {
        if (lock.requiresPython && !versionSatisfies(target.pythonVersion, lock.requiresPython)) continue;
        const fromUv = lockClosure(lock, project, target).packages.map((e) => (e.firstParty ? e.pkg.name : `${e.pkg.name} ${e.pkg.version}`));
        const fromPylock = pylockClosure(pylock, target).packages.map((e) => (e.firstParty ? e.pkg.name : `${e.pkg.name} ${e.pkg.version}`));
        expect(fromPylock).toEqual(fromUv);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('writes a first line naming the uv.lock and the hash of the rest, and reads it back', () => {
    const text = generatedPylockText(uvLock('example'), 'service-a', { outputDir: 'services/service-a', lockDir: '.' });
    const header = generatedPylockHeader(text)!;
    expect(header.source).toBe('../../uv.lock');
    expect(header.sha256).toBe(generatedPylockBodyHash(text));
    expect(text.split('\n')[0]).toMatch(/run `nx sync` to refresh it/);
    const back = parsePylock(text, 'x');
    expect(back.packages.find((p) => p.name === 'greeting')!.directory).toEqual({ path: '../../libs/greeting', editable: true });
    expect(back.createdBy).toBe('nx-pex');
    // A user's own lock has no such line.
    expect(generatedPylockHeader(readFileSync(join(UV_ANSWERS, 'example-service-a.toml'), 'utf8'))).toBeUndefined();
    // The same input gives the same bytes.
    expect(generatedPylockText(uvLock('example'), 'service-a', { outputDir: 'services/service-a', lockDir: '.' })).toBe(text);
  });

  it('changes only the locks of projects whose closure changed when one package is bumped', () => {
    const lock = uvLock('example');
    const before = Object.fromEntries(['service-a', 'service-b', 'greeting'].map((p) => [p, generatedPylockText(lock, p, { outputDir: p, lockDir: '.' })]));
    const numpy = lock.packages.find((p) => p.name === 'numpy')!;
    numpy.wheels = numpy.wheels.slice(1);
    const after = Object.fromEntries(['service-a', 'service-b', 'greeting'].map((p) => [p, generatedPylockText(lock, p, { outputDir: p, lockDir: '.' })]));
    expect(after['service-a']).toBe(before['service-a']);
    expect(after.greeting).toBe(before.greeting);
    expect(after['service-b']).not.toBe(before['service-b']);
  });
});

describeWith(['uv'], 'uv export, run now', () => {
  const uv = uvBinary();
  it.each(CASES)('%s / %s: uv still gives the kept answer', (fixture, project, dir) => {
    const work = mkdtempSync(join(tmpdir(), 'nx-pex-uv-'));
    try {
      cpSync(lockDirOf(fixture), work, { recursive: true, filter: (src) => !/node_modules|\.venv|pylock\.toml$/.test(src) });
      const rename = (d: string) => {
        for (const name of readdirSync(d)) {
          const full = join(d, name);
          if (statSync(full).isDirectory()) rename(full);
          else if (name === 'pyproject.src.toml') renameSync(full, join(d, 'pyproject.toml'));
        }
      };
      rename(work);
      const out = join(work, dir, 'pylock.toml');
      execFileSync(uv!, ['export', '--frozen', '--no-dev', '--package', project, '--format', 'pylock.toml', '-o', out, '--quiet'], {
        cwd: work,
        env: { ...process.env, UV_OFFLINE: '1', UV_NO_CACHE: '1' },
      });
      const now: Pylock = parsePylock(readFileSync(out, 'utf8'), out);
      const kept = parsePylock(readFileSync(join(UV_ANSWERS, `${fixture}-${project}.toml`), 'utf8'), 'kept');
      expect(now.packages.map(identity)).toEqual(kept.packages.map(identity));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
