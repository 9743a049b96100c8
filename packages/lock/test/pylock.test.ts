import { LockError, formatPylock, parsePylock, pylockClosure, selectWheels } from '@nx-pex/lock';
import { linuxTarget, windowsTarget } from './helpers';

const SHA = (c: string) => c.repeat(64);

// The shape of PEP 751's own example, with extras, dependency groups and every kind of source.
const LOCK = `# a user's own lock
lock-version = '1.0'
environments = ["sys_platform == 'win32'", "sys_platform == 'linux'"]
requires-python = '>=3.9'
extras = ['Fast']
dependency-groups = ['dev', 'docs']
default-groups = ['dev']
created-by = 'mousebender'

[[packages]]
name = 'attrs'
version = '25.1.0'
requires-python = '>=3.8'
index = 'https://pypi.org/simple'
wheels = [
  {name = 'attrs-25.1.0-py3-none-any.whl', upload-time = 2025-01-25T11:30:10.164985+00:00, url = 'https://files.pythonhosted.org/packages/attrs-25.1.0-py3-none-any.whl', size = 63152, hashes = {sha256 = '${SHA('a')}'}},
]
[[packages.attestation-identities]]
kind = 'GitHub'
repository = 'python-attrs/attrs'

[[packages]]
name = 'numpy'
version = '2.2.3'
marker = "sys_platform == 'linux'"
wheels = [
  {url = 'https://example.com/numpy-2.2.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', hashes = {sha256 = '${SHA('b')}'}},
  {url = 'https://example.com/numpy-2.2.3-cp311-cp311-win_amd64.whl', hashes = {sha256 = '${SHA('c')}'}},
]

[[packages]]
name = 'orjson'
version = '3.10.0'
marker = "'fast' in extras"
dependencies = []
wheels = [{path = 'wheels/orjson-3.10.0-cp311-cp311-manylinux_2_17_x86_64.whl', hashes = {sha256 = '${SHA('d')}'}}]

[[packages]]
name = 'pytest'
version = '8.0.0'
marker = "'dev' in dependency_groups"
wheels = [{url = 'https://example.com/pytest-8.0.0-py3-none-any.whl', hashes = {sha256 = '${SHA('e')}'}}]

[[packages]]
name = 'sphinx'
version = '8.0.0'
marker = "'docs' in dependency_groups and python_version >= '3.10'"
sdist = {url = 'https://example.com/sphinx-8.0.0.tar.gz', hashes = {sha256 = '${SHA('f')}'}}

[[packages]]
name = 'my-lib'
directory = {path = '../libs/my-lib', editable = true}

[[packages]]
name = 'gitdep'
version = '0.9.0'
vcs = {type = 'git', url = 'https://example.com/gitdep.git', requested-revision = 'v0.9', commit-id = '${'1'.repeat(40)}'}

[[packages]]
name = 'tool-thing'
version = '1.0'
archive = {url = 'https://example.com/tool_thing-1.0-py3-none-any.whl', hashes = {sha256 = '${SHA('0')}'}}
`;

const names = (c: ReturnType<typeof pylockClosure>) => c.packages.map((e) => e.pkg.name);

describe('PEP 751 pylock.toml', () => {
  it('reads every top-level key and every kind of package', () => {
    const lock = parsePylock(LOCK, 'pylock.toml');
    expect(lock.lockVersion).toBe('1.0');
    expect(lock.header).toEqual(["a user's own lock"]);
    expect(lock.environments).toHaveLength(2);
    expect(lock.extras).toEqual(['fast']);
    expect(lock.dependencyGroups).toEqual(['dev', 'docs']);
    expect(lock.defaultGroups).toEqual(['dev']);
    expect(lock.requiresPython).toBe('>=3.9');
    const attrs = lock.packages[0];
    expect(attrs.wheels[0]).toMatchObject({ filename: 'attrs-25.1.0-py3-none-any.whl', size: 63152, sha256: SHA('a'), hash: `sha256:${SHA('a')}` });
    expect(attrs.wheels[0].uploadTime).toBe('2025-01-25T11:30:10.164Z');
    expect(attrs.line).toBe(10);
    expect(attrs.attestationIdentities).toEqual([{ kind: 'GitHub', repository: 'python-attrs/attrs' }]);
    expect(lock.packages[2].wheels[0]).toMatchObject({ path: 'wheels/orjson-3.10.0-cp311-cp311-manylinux_2_17_x86_64.whl', filename: 'orjson-3.10.0-cp311-cp311-manylinux_2_17_x86_64.whl' });
    expect(lock.packages.find((p) => p.name === 'my-lib')!.directory).toEqual({ path: '../libs/my-lib', editable: true });
    expect(lock.packages.find((p) => p.name === 'gitdep')!.vcs).toMatchObject({ type: 'git', requestedRevision: 'v0.9' });
  });

  it('selects every package whose marker holds, with extras and dependency groups', () => {
    const lock = parsePylock(LOCK, 'pylock.toml');
    const linux = linuxTarget('cp311');
    expect(names(pylockClosure(lock, linux))).toEqual(['attrs', 'gitdep', 'my-lib', 'numpy', 'pytest', 'tool-thing']);
    expect(names(pylockClosure(lock, linux, { extras: ['FAST'], groups: ['docs'] }))).toEqual(['attrs', 'gitdep', 'my-lib', 'numpy', 'orjson', 'sphinx', 'tool-thing']);
    expect(names(pylockClosure(lock, windowsTarget(), { groups: [] }))).toEqual(['attrs', 'gitdep', 'my-lib', 'tool-thing']);
    const c = pylockClosure(lock, linux, { project: 'my-lib' });
    expect(c.root.name).toBe('my-lib');
    expect(c.firstParty.map((p) => p.name)).toEqual(['my-lib']);
    expect(c.firstParty[0].source).toEqual({ kind: 'editable', path: '../libs/my-lib' });
    // A wheel given as an archive is installable; the right wheel is chosen per platform.
    const onlyWheels = pylockClosure(parsePylock(LOCK.replace(/\[\[packages\]\]\nname = 'gitdep'[\s\S]*?\n\n/, ''), 'p'), linux, { groups: [] });
    const picked = selectWheels({ ...onlyWheels, thirdParty: onlyWheels.thirdParty }, linux, 'p').map((w) => w.wheel.filename);
    expect(picked).toEqual(['attrs-25.1.0-py3-none-any.whl', 'numpy-2.2.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', 'tool_thing-1.0-py3-none-any.whl']);
  });

  it('refuses targets, extras and groups the lock does not cover', () => {
    const lock = parsePylock(LOCK, 'pylock.toml');
    const mac = linuxTarget('cp311');
    const darwin = { ...mac, id: 'mac', markerEnvironment: { ...mac.markerEnvironment, sys_platform: 'darwin' } };
    expect(() => pylockClosure(lock, darwin)).toThrow(/does not cover target mac: none of its environments holds/);
    expect(() => pylockClosure(lock, mac, { extras: ['slow'] })).toThrow(/no extra 'slow' \(it lists: fast\)/);
    expect(() => pylockClosure(lock, mac, { groups: ['lint'] })).toThrow(/no dependency group 'lint'/);
    expect(() => pylockClosure(lock, linuxTarget('cp38'))).toThrow(/outside the lock's requires-python '>=3.9'/);
    const twice = `${LOCK}\n[[packages]]\nname = 'attrs'\nversion = '24.0'\nwheels = [{url = 'https://e/attrs-24.0-py3-none-any.whl', hashes = {sha256 = '${SHA('9')}'}}]\n`;
    expect(() => pylockClosure(parsePylock(twice, 'p.toml'), mac)).toThrow(/installs attrs twice/);
  });

  it('names the file, line and problem for a malformed lock', () => {
    const bad = (text: string) => {
      try {
        parsePylock(text, 'pylock.toml');
      } catch (e) {
        expect(e).toBeInstanceOf(LockError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad("lock-version = '2.0'\n")).toMatch(/lock-version 2.0 is not supported/);
    expect(bad('created-by = "x"\n')).toMatch(/`lock-version` is missing/);
    expect(bad("lock-version = '1.0'\n\n[[packages]]\nname = 'a'\nversion = '1'\nwheels = [{url = 'https://e/a-1-py3-none-any.whl'}]\n")).toMatch(/^pylock.toml:3: package 'a 1': a wheel .* has no `hashes`/);
    expect(bad("lock-version = '1.0'\n[[packages]]\nname = 'a'\n")).toMatch(/nothing to install/);
    expect(bad("lock-version = '1.0'\n[[packages]]\nname = 'a'\ndirectory = {path='.'}\nvcs = {type='git', url='u', commit-id='c'}\n")).toMatch(/one kind of source/);
    expect(bad("lock-version = '1.0'\n[[packages]]\nname = 'a'\nmarker = 'python_version >>> 3'\ndirectory = {path='.'}\n")).toMatch(/invalid marker/);
    expect(bad('lock-version = [')).toMatch(/^pylock.toml:1:\d+: not valid TOML/);
  });

  it('writes what it reads', () => {
    const lock = parsePylock(LOCK, 'pylock.toml');
    const text = formatPylock(lock);
    const again = parsePylock(text, 'pylock.toml');
    expect({ ...again, packages: again.packages.map((p) => ({ ...p, line: undefined, attestationIdentities: undefined })) }).toEqual({
      ...lock,
      packages: lock.packages.map((p) => ({ ...p, line: undefined, attestationIdentities: undefined })),
    });
    expect(formatPylock(again)).toBe(text);
  });
});
