import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abbreviatedPlatform, evaluateMarker, parseRequirement } from '@nx-pex/pep';
import { lockClosure, parseUvLock, readUvLock } from '@nx-pex/lock';
import { mergeRequirements } from '../src/selection';
import { lockKindOf, LOCK_KINDS } from '../src/sources';
import { checkRequirementsCovered, lockRequirements, pinnedRequirements } from '../src/sources/runtime-requirements';

const linux311 = abbreviatedPlatform('manylinux2014_x86_64-cp-311-cp311');
const mac311 = abbreviatedPlatform('macosx_11_0_arm64-cp-311-cp311');
const win311 = abbreviatedPlatform('win_amd64-cp-311-cp311');
const FIXTURE = join(__dirname, '..', '..', '..', 'plugins', 'nx-pex', 'test', 'fixtures', 'lock-extras', 'uv.lock');

describe('PEX-INFO requirements from a lock', () => {
  it('take the extras of a workspace dependency and dynamic dependencies from the lock, not pyproject', async () => {
    const lock = await readUvLock(FIXTURE);
    const closure = lockClosure(lock, 'app', linux311);
    // lib[cli,cfg] brings click and iniconfig; dyn's dependency is known only to the lock.
    expect(lockRequirements(closure, linux311, new Map())).toEqual(['click==8.5.1', 'iniconfig==2.3.1', 'six==1.17.0', 'typing-extensions']);
    // Without lib's extras, its optional packages are not asked for.
    expect(lockRequirements(lockClosure(lock, 'lib', linux311), linux311, new Map())).toEqual(['six==1.17.0']);
  });

  it('without requires-dist, follow the edges that hold on the target, with the extras they ask for', () => {
    const lock = parseUvLock(
      [
        'version = 1',
        'revision = 3',
        'requires-python = ">=3.11"',
        '[manifest]',
        'members = ["app", "lib"]',
        '[[package]]',
        'name = "app"',
        'version = "1.0"',
        'source = { editable = "app" }',
        'dependencies = [{ name = "lib", extra = ["web"] }]',
        '[[package]]',
        'name = "lib"',
        'version = "1.0"',
        'source = { editable = "lib" }',
        'dependencies = [{ name = "colorama", marker = "sys_platform == \'win32\'" }]',
        '[package.optional-dependencies]',
        'web = [{ name = "httpx", extra = ["http2"] }]',
        '[[package]]',
        'name = "httpx"',
        'version = "0.28.1"',
        'source = { registry = "https://pypi.org/simple" }',
        'dependencies = []',
        '[package.optional-dependencies]',
        'http2 = []',
        '[[package]]',
        'name = "colorama"',
        'version = "0.4.6"',
        'source = { registry = "https://pypi.org/simple" }',
        '',
      ].join('\n'),
      'uv.lock',
    );
    expect(lockRequirements(lockClosure(lock, 'app', linux311), linux311, new Map())).toEqual(['httpx[http2]']);
    expect(lockRequirements(lockClosure(lock, 'app', win311), win311, new Map())).toEqual(['colorama', 'httpx[http2]']);
    expect(pinnedRequirements(lockClosure(lock, 'app', win311))).toEqual(['colorama==0.4.6', 'httpx==0.28.1']);
  });

  it('a requirement that names a package the selection lacks on the target stops the build', async () => {
    const lock = await readUvLock(FIXTURE);
    const closure = lockClosure(lock, 'lib', linux311);
    expect(() => checkRequirementsCovered(['six', 'click'], closure, linux311, 'app/pylock.toml', 'Run `nx sync`.')).toThrow(
      /app\/pylock\.toml: the build needs click on .*, but the lock selects no click for it\. Run `nx sync`\./,
    );
    expect(() => checkRequirementsCovered(['six', 'click; sys_platform == "win32"'], closure, linux311, 'x', '')).not.toThrow();
  });
});

describe('requirements of several targets', () => {
  const targets = [linux311, mac311];

  it('one every target needs stays as written; one only some need holds on those alone', () => {
    const merged = mergeRequirements(
      [
        { target: linux311, requirements: ['six==1.17.0', 'uvloop'] },
        { target: mac311, requirements: ['six==1.17.0', 'appnope; sys_platform == "darwin"'] },
      ],
      targets,
    );
    expect(merged).toEqual(['appnope; sys_platform == "darwin"', 'six==1.17.0', 'uvloop; sys_platform == "linux"']);
    for (const text of merged) {
      const { marker } = parseRequirement(text);
      const on = targets.filter((t) => !marker || evaluateMarker(marker, t.markerEnvironment));
      expect(on.length).toBeGreaterThan(0);
    }
  });
});

describe('the kinds of lock', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nx-pex-kinds-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are told by name, then by content; anything else is a requirements file', async () => {
    const kindOf = async (name: string, text = '') => {
      await writeFile(join(dir, name), text);
      return (await lockKindOf(join(dir, name))).kind;
    };
    expect(await kindOf('uv.lock')).toBe('uv');
    expect(await kindOf('poetry.lock')).toBe('poetry');
    expect(await kindOf('pylock.toml')).toBe('pylock');
    expect(await kindOf('pylock.dev.toml')).toBe('pylock');
    expect(await kindOf('reqs.txt')).toBe('requirements');
    expect(await kindOf('a.lock', 'version = 1\nrevision = 3\n\n[[package]]\nname = "x"\n')).toBe('uv');
    expect(await kindOf('b.lock', 'lock-version = "1.0"\n\n[[packages]]\nname = "x"\n')).toBe('pylock');
    expect(await kindOf('c.lock', '[[package]]\nname = "x"\nfiles = []\n\n[metadata]\nlock-version = "2.0"\n')).toBe('poetry');
    expect(await kindOf('d.lock', 'six==1.17.0 --hash=sha256:00\n')).toBe('requirements');
    expect(LOCK_KINDS.map((k) => k.kind)).toEqual(['pylock', 'poetry', 'uv', 'requirements']);
  });
});
