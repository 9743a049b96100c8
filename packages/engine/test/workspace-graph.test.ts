/**
 * What the workspace's locks say about its projects, as the Nx graph asks it (without Nx): the
 * lock that governs each project, its workspace edges and third-party packages, the state of its
 * generated pylock.toml, and the content-hash cache that keeps a uv.lock from being parsed twice.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_COMMAND_HEADER, parseUvLock } from '@nx-pex/lock';
import { parsePyproject } from '@nx-pex/project';
import {
  LockSummaryCache,
  SUMMARY_CACHE_MAX_ENTRIES,
  cachedProjectPackages,
  cachedWorkspaceEdges,
  fileSha,
  governingLock,
  hasTests,
  lockedWorkspaceDirs,
  moduleOwners,
  perProjectLockState,
  projectLockFiles,
  projectLockText,
  pylockNeedsSync,
  type SummaryCache,
} from '@nx-pex/engine';

const UV_LOCK = `version = 1
revision = 3
requires-python = ">=3.11"

[manifest]
members = ["app", "lib"]

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "services/app" }
dependencies = [{ name = "lib" }]

[[package]]
name = "lib"
version = "0.1.0"
source = { editable = "libs/lib" }
dependencies = [{ name = "six" }]

[[package]]
name = "six"
version = "1.17.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:${'a'.repeat(64)}" }]
`;

const USER_PYLOCK = `lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "lib"
directory = { path = "../../libs/lib" }

[[packages]]
name = "six"
version = "1.17.0"
wheels = [{ url = "https://files.example/six-1.17.0-py2.py3-none-any.whl", hashes = { sha256 = "${'a'.repeat(64)}" } }]
`;

let ws: string;

/** A summary cache in memory, whose entries a test can read and change. */
class MemoryCache implements SummaryCache {
  readonly entries = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.entries.get(key) as T | undefined;
  }
  set(key: string, value: unknown): void {
    this.entries.set(key, value);
  }
}

function project(dir: string, name: string, extra = ''): string {
  mkdirSync(join(ws, dir, 'src', name), { recursive: true });
  writeFileSync(join(ws, dir, 'src', name, '__init__.py'), '');
  const file = join(ws, dir, 'pyproject.toml');
  writeFileSync(file, `[project]\nname = "${name}"\nversion = "0.1.0"\n${extra}`);
  return file;
}

const pyprojectOf = (dir: string) => {
  const file = join(ws, dir, 'pyproject.toml');
  return parsePyproject(readFileSync(file, 'utf8'), file);
};

beforeEach(() => {
  ws = mkdtempSync(join(tmpdir(), 'nx-pex-workspace-graph-'));
  writeFileSync(join(ws, 'uv.lock'), UV_LOCK);
  project('services/app', 'app');
  project('libs/lib', 'lib');
  project('tools/outsider', 'outsider');
});

afterEach(() => rmSync(ws, { recursive: true, force: true }));

describe('governingLock', () => {
  it('gives a uv workspace member the uv.lock and its workspace edges', async () => {
    const app = pyprojectOf('services/app');
    const governing = await governingLock(app, ws, true, new Map(), new MemoryCache());
    expect(governing).toMatchObject({ kind: 'uv', lock: join(ws, 'uv.lock') });
    expect(lockedWorkspaceDirs(governing, app)).toEqual([join(ws, 'libs/lib')]);
  });

  it('governs nothing for a project the uv.lock does not cover yet', async () => {
    const outsider = pyprojectOf('tools/outsider');
    const governing = await governingLock(outsider, ws, true, new Map(), new MemoryCache());
    expect(governing).toEqual({ kind: 'none' });
    expect(lockedWorkspaceDirs(governing, outsider)).toBeUndefined();
  });

  it("takes a user's own pylock.toml, with its directories as first-party, unless per-project locks are off", async () => {
    writeFileSync(join(ws, 'services/app/pylock.toml'), USER_PYLOCK);
    const app = pyprojectOf('services/app');
    const governing = await governingLock(app, ws, true, new Map(), new MemoryCache());
    expect(governing).toMatchObject({ kind: 'pylock', lock: join(ws, 'services/app/pylock.toml') });
    expect(lockedWorkspaceDirs(governing, app)).toEqual([join(ws, 'libs/lib')]);
    expect(await governingLock(app, ws, false, new Map(), new MemoryCache())).toMatchObject({ kind: 'uv' });
  });

  it('passes over a generated pylock.toml to the uv.lock it came from', async () => {
    const lockPath = join(ws, 'uv.lock');
    writeFileSync(join(ws, 'services/app/pylock.toml'), projectLockText(parseUvLock(UV_LOCK, lockPath), 'app', join(ws, 'services/app'), lockPath));
    expect(await governingLock(pyprojectOf('services/app'), ws, true, new Map(), new MemoryCache())).toMatchObject({ kind: 'uv' });
  });

  it('names a poetry.lock beside the project as its own lock, and follows [tool.nx-pex] lock-file', async () => {
    writeFileSync(join(ws, 'tools/outsider/poetry.lock'), '');
    expect(await governingLock(pyprojectOf('tools/outsider'), ws, true, new Map(), new MemoryCache())).toEqual({ kind: 'own', lock: join(ws, 'tools/outsider/poetry.lock') });
    project('tools/outsider', 'outsider', '\n[tool.nx-pex]\nlock-file = "pylock.locked.toml"\n');
    writeFileSync(join(ws, 'tools/outsider/pylock.locked.toml'), USER_PYLOCK);
    const governing = await governingLock(pyprojectOf('tools/outsider'), ws, true, new Map(), new MemoryCache());
    expect(governing).toMatchObject({ kind: 'pylock', lock: join(ws, 'tools/outsider/pylock.locked.toml'), directories: [join(ws, 'libs/lib')] });
  });
});

describe('projectLockFiles', () => {
  it('finds the uv.lock above a project, an own lock beside it, and the lock-file override', async () => {
    const at = (dir: string) => {
      const file = join(ws, dir, 'pyproject.toml');
      return projectLockFiles(readFileSync(file, 'utf8'), file, join(ws, dir), ws, new Map());
    };
    expect(await at('services/app')).toEqual({ lock: join(ws, 'uv.lock') });
    writeFileSync(join(ws, 'tools/outsider/poetry.lock'), '');
    expect(await at('tools/outsider')).toEqual({ ownLock: join(ws, 'tools/outsider/poetry.lock'), lock: join(ws, 'tools/outsider/poetry.lock') });
    project('libs/lib', 'lib', '\n[tool.nx-pex]\nlock-file = "requirements.txt"\n');
    expect(await at('libs/lib')).toEqual({ override: 'requirements.txt', ownLock: join(ws, 'libs/lib/requirements.txt'), lock: join(ws, 'libs/lib/requirements.txt') });
    project('libs/lib', 'lib', '\n[tool.nx-pex]\nlock-file = "../../uv.lock"\n');
    expect(await at('libs/lib')).toEqual({ override: '../../uv.lock', lock: join(ws, 'uv.lock') });
  });
});

describe('perProjectLockState', () => {
  it('tells current, stale, shadowed and none apart, and says when the uv.lock must be an input', () => {
    const lockPath = join(ws, 'uv.lock');
    const dir = join(ws, 'services/app');
    const generated = projectLockText(parseUvLock(UV_LOCK, lockPath), 'app', dir, lockPath);
    const cache = new MemoryCache();
    const state = (text: string | null) => perProjectLockState(text, lockPath, 'app', dir, cache);
    expect(state(generated)).toBe('current');
    expect(state(null)).toBe('stale');
    expect(state(generated.replace('1.17.0', '1.16.0'))).toBe('stale');
    expect(state(`# ${LOCK_COMMAND_HEADER}\nlock-version = "1.0"\ncreated-by = "nx-pex"\n`)).toBe('shadowed');
    expect(state(USER_PYLOCK)).toBe('current');
    expect(perProjectLockState(generated, lockPath, 'outsider', join(ws, 'tools/outsider'), cache)).toBe('none');
    expect(perProjectLockState(generated, undefined, 'app', dir, cache)).toBe('none');

    expect(pylockNeedsSync('app', generated, lockPath, dir, cache)).toBe(false);
    expect(pylockNeedsSync('app', null, lockPath, dir, cache)).toBe(true);
    expect(pylockNeedsSync('app', null, join(ws, 'tools/outsider/poetry.lock'), dir, cache)).toBe(false);
    expect(pylockNeedsSync(undefined, null, lockPath, dir, cache)).toBe(false);
  });

  it("remembers the generated lock's sha256 by the uv.lock's content hash", () => {
    const lockPath = join(ws, 'uv.lock');
    const dir = join(ws, 'services/app');
    const cache = new MemoryCache();
    const generated = projectLockText(parseUvLock(UV_LOCK, lockPath), 'app', dir, lockPath);
    expect(perProjectLockState(generated, lockPath, 'app', dir, cache)).toBe('current');
    const [key] = [...cache.entries.keys()];
    expect(key).toContain(fileSha(lockPath)!);
    // What is remembered is what is compared: a changed entry changes the answer without a parse.
    cache.set(key!, 'f'.repeat(64));
    expect(perProjectLockState(generated, lockPath, 'app', dir, cache)).toBe('stale');
  });
});

describe('lock summaries', () => {
  it("gives each project its closure's third-party packages and the lock's edges, from the cache once known", () => {
    const lockPath = join(ws, 'uv.lock');
    const cache = new MemoryCache();
    expect(cachedProjectPackages(cache, 'app', join(ws, 'services/app'), lockPath, true, null)?.map((p) => [p.name, p.version])).toEqual([['six', '1.17.0']]);
    expect(cachedProjectPackages(cache, 'outsider', join(ws, 'tools/outsider'), lockPath, true, null)).toBeUndefined();
    const edges = cachedWorkspaceEdges(cache, lockPath)!;
    expect(edges.get('app')?.needs).toEqual(['lib']);
    // Known by the lock's hash: the cache answers, the lock is not read for it.
    const sha = fileSha(lockPath)!;
    cache.set(`edges\0${sha}`, [['app', { needs: ['elsewhere'] }]]);
    expect(cachedWorkspaceEdges(cache, lockPath)?.get('app')?.needs).toEqual(['elsewhere']);
    cache.set(`packages\0${sha}\0app`, null);
    expect(cachedProjectPackages(cache, 'app', join(ws, 'services/app'), lockPath, true, null)).toBeUndefined();
  });

  it("reads a user's own pylock.toml for its packages, not the uv.lock", () => {
    writeFileSync(join(ws, 'services/app/pylock.toml'), USER_PYLOCK.replace('1.17.0', '1.16.0'));
    const packages = cachedProjectPackages(new MemoryCache(), 'app', join(ws, 'services/app'), join(ws, 'uv.lock'), true, USER_PYLOCK.replace('1.17.0', '1.16.0'));
    expect(packages?.map((p) => [p.name, p.version])).toEqual([['six', '1.16.0']]);
  });
});

describe('LockSummaryCache', () => {
  const file = () => join(ws, '.data', 'locks.json');

  it('keeps entries across instances of the same version, atomically, and drops them for another version', () => {
    const a = new LockSummaryCache(file(), '1.0.0');
    a.set('k', { v: [1, 2] });
    a.flush();
    expect(new LockSummaryCache(file(), '1.0.0').get('k')).toEqual({ v: [1, 2] });
    expect(new LockSummaryCache(file(), '1.0.1').get('k')).toBeUndefined();
    expect(readdirSync(join(ws, '.data'))).toEqual(['locks.json']);
  });

  it('reads a damaged file as empty, and keeps the newest entries only', () => {
    mkdirSync(join(ws, '.data'));
    writeFileSync(file(), '{"format": "nx-pex-lock-cache-1", "entr');
    const c = new LockSummaryCache(file(), '1');
    expect(c.get('k')).toBeUndefined();
    for (let i = 0; i <= SUMMARY_CACHE_MAX_ENTRIES; i++) c.set(`k${i}`, i);
    c.set('k0', 'again'); // set again: the newest
    c.flush();
    const back = new LockSummaryCache(file(), '1');
    expect(back.get('k1')).toBeUndefined();
    expect(back.get('k2')).toBe(2);
    expect(back.get('k0')).toBe('again');
    expect(back.get(`k${SUMMARY_CACHE_MAX_ENTRIES}`)).toBe(SUMMARY_CACHE_MAX_ENTRIES);
  });

  it('keeps working when its directory cannot be written', () => {
    writeFileSync(join(ws, 'blocker'), '');
    const c = new LockSummaryCache(join(ws, 'blocker', 'locks.json'), '1');
    c.set('k', 1);
    expect(() => c.flush()).not.toThrow();
    expect(c.get('k')).toBe(1);
  });
});

describe('moduleOwners and hasTests', () => {
  it('maps each top-level module to the project providing it, and a module two provide to null', async () => {
    project('libs/twin', 'twin');
    mkdirSync(join(ws, 'libs/twin/src/lib'));
    writeFileSync(join(ws, 'libs/twin/src/lib/__init__.py'), '');
    const projects = ['services/app', 'libs/lib', 'libs/twin'].map((dir) => ({ name: dir.split('/')[1]!, pyproject: pyprojectOf(dir) }));
    const owners = await moduleOwners(projects);
    expect(owners.get('app')).toBe('app');
    expect(owners.get('twin')).toBe('twin');
    expect(owners.get('lib')).toBeNull();
  });

  it('finds tests by pytest configuration, conftest.py, test directories and file names', () => {
    const dir = join(ws, 'services/app');
    expect(hasTests(dir, '[project]\nname = "app"\n', ['pyproject.toml', 'src'])).toBe(false);
    expect(hasTests(dir, '[tool.pytest.ini_options]\n', ['pyproject.toml'])).toBe(true);
    expect(hasTests(dir, '', ['tests'])).toBe(true);
    expect(hasTests(dir, '', ['conftest.py'])).toBe(true);
    expect(hasTests(dir, '', ['test_app.py'])).toBe(true);
    expect(hasTests(dir, '', ['app_test.py'])).toBe(true);
    writeFileSync(join(dir, 'setup.cfg'), '[metadata]\nname = app\n');
    expect(hasTests(dir, '', ['setup.cfg'])).toBe(false);
    writeFileSync(join(dir, 'setup.cfg'), '[tool:pytest]\naddopts = -q\n');
    expect(hasTests(dir, '', ['setup.cfg'])).toBe(true);
    writeFileSync(join(dir, 'tox.ini'), '[pytest]\n');
    expect(hasTests(dir, '', ['tox.ini'])).toBe(true);
  });
});
