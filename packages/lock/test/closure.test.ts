import { Closure, LockError, lockClosure, Lockfile, NoWheelForPlatformError, parseUvLock, rootRequirements, selectWheels } from '@nx-pex/lock';
import { fixtureText, linuxTarget, windowsTarget } from './helpers';

function load(name: string): Lockfile {
  return parseUvLock(fixtureText(name, 'uv.lock'), `${name}/uv.lock`);
}

/** `name==version` for third-party packages and bare names for first-party ones, as `uv sync --dry-run` lists them. */
function listed(c: Closure): string[] {
  return c.packages.map((e) => (e.firstParty ? e.pkg.name : `${e.pkg.name}==${e.pkg.version}`));
}

// Expected lists below are what `uv sync --frozen --no-dev --dry-run` printed for the same
// lock, project, extras and interpreter (CPython 3.8.18 … 3.12.1 on glibc x86_64 Linux).
describe('lockClosure matches uv sync --no-dev', () => {
  const ws = load('workspace');

  it('follows forks by python version (svc-a on 3.11)', () => {
    const c = lockClosure(ws, 'svc-a', linuxTarget('cp311'));
    expect(listed(c)).toEqual(['anyio==4.16.0', 'click==8.5.1', 'idna==3.20', 'lib-core', 'numpy==2.4.6', 'svc-a', 'typing-extensions==4.16.0']);
    expect(c.root.name).toBe('svc-a');
    expect(c.firstParty.map((p) => p.name)).toEqual(['lib-core', 'svc-a']);
    expect(c.thirdParty.map((p) => p.name)).toEqual(['anyio', 'click', 'idna', 'numpy', 'typing-extensions']);
  });

  it('adds the requested extras of the root (svc-a[web] on 3.10 and 3.12)', () => {
    expect(listed(lockClosure(ws, 'svc-a', linuxTarget('cp310'), { extras: ['web'] }))).toEqual([
      'anyio==4.16.0',
      'click==8.5.1',
      'exceptiongroup==1.3.1',
      'h11==0.16.0',
      'idna==3.20',
      'lib-core',
      'numpy==2.2.6',
      'svc-a',
      'typing-extensions==4.16.0',
      'uvicorn==0.54.0',
    ]);
    expect(listed(lockClosure(ws, 'svc-a', linuxTarget('cp312'), { extras: ['Web'] }))).toEqual([
      'anyio==4.16.0',
      'click==8.5.1',
      'h11==0.16.0',
      'idna==3.20',
      'lib-core',
      'numpy==2.5.5',
      'svc-a',
      'typing-extensions==4.16.0',
      'uvicorn==0.54.0',
    ]);
  });

  it('follows sys_platform markers (colorama only on Windows)', () => {
    const c = lockClosure(ws, 'svc-a', windowsTarget());
    expect(listed(c)).toEqual(['anyio==4.16.0', 'click==8.5.1', 'colorama==0.4.6', 'idna==3.20', 'lib-core', 'numpy==2.4.6', 'svc-a', 'typing-extensions==4.16.0']);
  });

  it('pulls optional dependencies of a dependency that asks for an extra (tools-cli -> lib-core[fast])', () => {
    const c = lockClosure(ws, 'tools-cli', linuxTarget());
    expect(listed(c)).toEqual(['click==8.5.1', 'docopt==0.6.2', 'lib-core', 'numpy==2.4.6', 'six==1.17.0', 'tools-cli']);
    expect(c.packages.find((e) => e.pkg.name === 'lib-core')!.extras).toEqual(['fast']);
  });

  it('does not follow dependency groups', () => {
    expect(listed(lockClosure(ws, 'lib-core', linuxTarget()))).toEqual(['click==8.5.1', 'lib-core', 'numpy==2.4.6']);
    expect(listed(lockClosure(ws, 'monorepo', linuxTarget()))).toEqual(['monorepo']);
  });

  it('follows extras of third-party packages and their markers (uvicorn[standard])', () => {
    expect(listed(lockClosure(load('extras'), 'web-api', linuxTarget()))).toEqual([
      'anyio==4.16.0',
      'click==8.5.1',
      'h11==0.16.0',
      'httptools==0.9.0',
      'idna==3.20',
      'python-dotenv==1.2.4',
      'pyyaml==6.0.3',
      'typing-extensions==4.16.0',
      'uvicorn==0.54.0',
      'uvloop==0.23.0',
      'watchfiles==1.3.0',
      'web-api',
      'websockets==17.4',
    ]);
    // On Windows uvloop is excluded by its marker.
    const linux = listed(lockClosure(load('extras'), 'web-api', linuxTarget()));
    expect(listed(lockClosure(load('extras'), 'web-api', windowsTarget()))).toEqual(linux.filter((p) => p !== 'uvloop==0.23.0'));
  });

  it('picks the fork of every package for old interpreters (3.8, 3.9)', () => {
    const simple = load('simple');
    expect(listed(lockClosure(simple, 'hello-app', linuxTarget('cp38')))).toEqual([
      'anyio==4.5.2',
      'exceptiongroup==1.3.1',
      'hello-app',
      'idna==3.15',
      'sniffio==1.3.1',
      'typing-extensions==4.13.2',
    ]);
    expect(listed(lockClosure(simple, 'hello-app', linuxTarget('cp39')))).toEqual([
      'anyio==4.12.1',
      'exceptiongroup==1.3.1',
      'hello-app',
      'idna==3.20',
      'typing-extensions==4.16.0',
    ]);
    expect(listed(lockClosure(simple, 'Hello_App', linuxTarget('cp311')))).toEqual(['anyio==4.16.0', 'hello-app', 'idna==3.20', 'typing-extensions==4.16.0']);
  });

  it('evaluates conflict markers from the extras the closure activates', () => {
    const lock = load('conflicts');
    const base = ['certifi==2026.10.18', 'charset-normalizer==3.5.2', 'conflicted'];
    const rest = ['requests==2.34.2', 'sniffio==1.3.1', 'urllib3==2.8.0'];
    expect(listed(lockClosure(lock, 'conflicted', linuxTarget()))).toEqual([...base, 'idna==3.7', ...rest]);
    expect(listed(lockClosure(lock, 'conflicted', linuxTarget(), { extras: ['old'] }))).toEqual([...base, 'idna==3.6', ...rest]);
    expect(listed(lockClosure(lock, 'conflicted', linuxTarget(), { extras: ['new'] }))).toEqual([...base, 'idna==3.7', ...rest]);
    // Both extras of a conflict set would need two versions of idna at once.
    expect(() => lockClosure(lock, 'conflicted', linuxTarget(), { extras: ['old', 'new'] })).toThrow(/needs two entries of idna at once/);
  });

  it('treats directory sources as first-party and url/git/path sources as third-party', () => {
    const c = lockClosure(load('sources'), 'sourcy', linuxTarget());
    expect(c.firstParty.map((p) => p.name)).toEqual(['localpkg', 'sourcy']);
    expect(c.thirdParty.map((p) => p.name)).toEqual(['attrs', 'gitpkg', 'six']);
  });

  it('handles dependency cycles', () => {
    const lock = parseUvLock(
      `version = 1
revision = 3
requires-python = ">=3.9"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "a" }]

[[package]]
name = "a"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "b" }]
wheels = [{ url = "https://example.invalid/a-1.0-py3-none-any.whl", hash = "sha256:${'1'.repeat(64)}" }]

[[package]]
name = "b"
version = "2.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "a" }, { name = "app" }]
wheels = [{ url = "https://example.invalid/b-2.0-py3-none-any.whl", hash = "sha256:${'2'.repeat(64)}" }]
`,
      'cycle/uv.lock',
    );
    expect(listed(lockClosure(lock, 'app', linuxTarget()))).toEqual(['a==1.0', 'app', 'b==2.0']);
  });
});

describe('lockClosure errors', () => {
  const ws = load('workspace');

  it('names the lock and the project when the project is not locked', () => {
    expect(() => lockClosure(ws, 'svc-z', linuxTarget())).toThrow(LockError);
    expect(() => lockClosure(ws, 'svc-z', linuxTarget())).toThrow(
      "workspace/uv.lock: project 'svc-z' is not in the lock (workspace projects in it: lib-core, monorepo, svc-a, tools-cli). If it is a new or renamed project, run `uv lock` to update the lock.",
    );
  });

  it('refuses a third-party package as the project', () => {
    expect(() => lockClosure(ws, 'numpy', linuxTarget())).toThrow(/'numpy' is locked only as a third-party package .* not as a project of this workspace/);
  });

  it('names both packages when a dependency is missing from the lock', () => {
    const text = fixtureText('workspace', 'uv.lock').replace(/\[\[package\]\]\nname = "idna"\n(?:.+\n)+?\n/, '');
    const lock = parseUvLock(text, 'ws/uv.lock');
    expect(lock.packages.some((p) => p.name === 'idna')).toBe(false);
    expect(() => lockClosure(lock, 'svc-a', linuxTarget())).toThrow(/^ws\/uv\.lock:\d+: anyio 4\.16\.0 depends on idna, which is not in the lock\. .*`uv lock`/);
  });

  it('names a missing forked version', () => {
    const text = fixtureText('workspace', 'uv.lock').replace(/\[\[package\]\]\nname = "numpy"\nversion = "2\.4\.6"\n(?:.+\n)+?\n/, '');
    expect(() => lockClosure(parseUvLock(text, 'ws/uv.lock'), 'svc-a', linuxTarget())).toThrow(
      /lib-core 0\.2\.0 depends on numpy 2\.4\.6 from registry\+https:\/\/pypi\.org\/simple, which is not in the lock/,
    );
  });

  it('rejects an extra the project does not declare', () => {
    expect(() => lockClosure(ws, 'svc-a', linuxTarget(), { extras: ['gpu'] })).toThrow(/project 'svc-a' has no extra 'gpu' in the lock \(it declares: web\)/);
  });

  it('rejects a target outside requires-python', () => {
    expect(() => lockClosure(ws, 'svc-a', linuxTarget('cp39'))).toThrow(/runs Python 3\.9\.18, outside the lock's requires-python '>=3\.10'/);
  });
});

describe('selectWheels', () => {
  it('picks the best wheel for the target', () => {
    const ws = load('workspace');
    const target = linuxTarget();
    const picked = selectWheels(lockClosure(ws, 'svc-a', target), target, ws.path);
    expect(picked.map((p) => `${p.pkg.name}: ${p.wheel.filename}`)).toEqual([
      'anyio: anyio-4.16.0-py3-none-any.whl',
      'click: click-8.5.1-py3-none-any.whl',
      'idna: idna-3.20-py3-none-any.whl',
      'numpy: numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl',
      'typing-extensions: typing_extensions-4.16.0-py3-none-any.whl',
    ]);
    for (const { wheel } of picked) {
      expect(wheel.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(wheel.url).toMatch(/^https:\/\//);
    }
    const win = windowsTarget();
    const numpyWin = selectWheels(lockClosure(ws, 'svc-a', win), win, ws.path).find((p) => p.pkg.name === 'numpy')!;
    expect(numpyWin.wheel.filename).toBe('numpy-2.4.6-cp311-cp311-win_amd64.whl');
  });

  it('explains an sdist-only package', () => {
    const ws = load('workspace');
    const target = linuxTarget();
    let err: NoWheelForPlatformError | undefined;
    try {
      selectWheels(lockClosure(ws, 'tools-cli', target), target, ws.path);
    } catch (e) {
      err = e as NoWheelForPlatformError;
    }
    expect(err).toBeInstanceOf(NoWheelForPlatformError);
    expect(err).toBeInstanceOf(LockError);
    expect(err!.name).toBe('NoWheelForPlatformError');
    expect(err!.packageName).toBe('docopt');
    expect(err!.version).toBe('0.6.2');
    expect(err!.targetId).toBe(target.id);
    expect(err!.availableWheels).toEqual([]);
    expect(err!.message).toMatch(/^workspace\/uv\.lock:\d+: no wheel of docopt 0\.6\.2 fits target cp311-cp311-manylinux_2_36_x86_64\. The lock has no wheels for it, only the sdist docopt-0\.6\.2\.tar\.gz\.\nBuilding sdists is not supported yet/);
  });

  it('lists the wheels that do not fit', () => {
    const lock = load('extras');
    // uvloop publishes no Windows wheels; force it into a Windows closure by dropping its marker.
    const uvicorn = lock.packages.find((p) => p.name === 'uvicorn')!;
    for (const d of uvicorn.optionalDependencies.standard) if (d.name === 'uvloop') delete d.marker;
    const target = windowsTarget();
    expect(() => selectWheels(lockClosure(lock, 'web-api', target), target, lock.path)).toThrow(
      /no wheel of uvloop 0\.23\.0 fits target cp311-cp311-win_amd64\. The lock lists \d+ wheel\(s\), none compatible:\n {2}uvloop-0\.23\.0-cp3\d+-.*\.whl\n/,
    );
  });

  it('explains a git source without files', () => {
    const lock = load('sources');
    const target = linuxTarget();
    expect(() => selectWheels(lockClosure(lock, 'sourcy', target), target, lock.path)).toThrow(
      /no wheel of gitpkg 0\.9\.0 fits target .*The lock has no files for it \(source: git\+file:\/\/\/tmp\/gitpkg.*\)\.\nBuilding from git sources is not supported yet/,
    );
  });
});

describe('rootRequirements', () => {
  const ws = load('workspace');

  it('collects requires-dist of the root and reachable first-party projects, without first-party names', () => {
    expect(rootRequirements(lockClosure(ws, 'svc-a', linuxTarget()))).toEqual([
      'anyio>=4',
      'click>=8',
      'colorama; sys_platform == "win32"',
      'numpy<2.3; python_full_version < "3.11"',
      'numpy>=1.26; python_full_version >= "3.11"',
    ]);
  });

  it('keeps requirements of activated extras without their extra clause', () => {
    expect(rootRequirements(lockClosure(ws, 'svc-a', linuxTarget(), { extras: ['web'] }))).toContain('uvicorn>=0.30');
    expect(rootRequirements(lockClosure(ws, 'tools-cli', linuxTarget()))).toEqual([
      'click>=8',
      'docopt==0.6.2',
      'numpy<2.3; python_full_version < "3.11"',
      'numpy>=1.26; python_full_version >= "3.11"',
      'six',
    ]);
  });

  it('keeps direct references and drops local first-party paths', () => {
    expect(rootRequirements(lockClosure(load('sources'), 'sourcy', linuxTarget()))).toEqual([
      'attrs @ https://files.pythonhosted.org/packages/3a/2a/7cc015f5b9f5db42b7d48157e23356022889fc354a2813c15934b7cb5c0e/attrs-25.4.0-py3-none-any.whl',
      'gitpkg @ git+file:///tmp/gitpkg@v0.9.0',
      'six',
    ]);
  });

  it('drops requirements of extras that are not activated', () => {
    expect(rootRequirements(lockClosure(load('conflicts'), 'conflicted', linuxTarget(), { extras: ['old'] }))).toEqual(['idna==3.6', 'requests', 'sniffio']);
  });
});
