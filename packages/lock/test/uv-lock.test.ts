import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { LockError, parseUvLock, readUvLock, sourceKey } from '@nx-pex/lock';
import { FIXTURES, fixtureText } from './helpers';

describe('readUvLock on locks written by uv', () => {
  it('reads the header, members and resolution markers of a workspace lock', async () => {
    const path = join(FIXTURES, 'workspace', 'uv.lock');
    const lock = await readUvLock(path);
    expect(lock.path).toBe(path);
    expect(lock.format).toBe('uv');
    expect(lock.requiresPython).toBe('>=3.10');
    expect(lock.formatVersion).toEqual({ version: 1, revision: 5 });
    expect(lock.workspaceMembers).toEqual(['lib-core', 'monorepo', 'svc-a', 'tools-cli']);
    expect(lock.resolutionMarkers).toEqual(["python_full_version >= '3.12'", "python_full_version == '3.11.*'", "python_full_version < '3.11'"]);
    expect(lock.conflicts).toEqual([]);
    expect(lock.packages).toHaveLength(26);
  });

  it('reads sources, artifacts, edges, extras and metadata of packages', () => {
    const lock = parseUvLock(fixtureText('workspace', 'uv.lock'), 'ws/uv.lock');
    const libCore = lock.packages.find((p) => p.name === 'lib-core')!;
    expect(libCore.version).toBe('0.2.0');
    expect(libCore.source).toEqual({ kind: 'editable', path: 'libs/lib-core' });
    expect(libCore.wheels).toEqual([]);
    expect(libCore.dependencies.map((d) => [d.name, d.version, d.marker])).toEqual([
      ['click', undefined, undefined],
      ['numpy', '2.2.6', "python_full_version < '3.11'"],
      ['numpy', '2.4.6', "python_full_version == '3.11.*'"],
      ['numpy', '2.5.5', "python_full_version >= '3.12'"],
    ]);
    expect(libCore.dependencies[1].source).toBe('registry+https://pypi.org/simple');
    expect(libCore.optionalDependencies).toEqual({ fast: [{ name: 'six', extras: [] }] });
    expect(libCore.providesExtras).toEqual(['fast']);
    expect(libCore.requiresDist).toEqual(['click>=8', 'numpy<2.3; python_full_version < "3.11"', 'numpy>=1.26; python_full_version >= "3.11"', 'six; extra == "fast"']);

    const monorepo = lock.packages.find((p) => p.name === 'monorepo')!;
    expect(monorepo.source).toEqual({ kind: 'virtual', path: '.' });
    expect(monorepo.dependencyGroups.dev.map((d) => d.name)).toEqual(['pytest']);

    const tools = lock.packages.find((p) => p.name === 'tools-cli')!;
    expect(tools.dependencies).toEqual([
      { name: 'docopt', extras: [] },
      { name: 'lib-core', extras: ['fast'] },
    ]);

    const numpy = lock.packages.filter((p) => p.name === 'numpy');
    expect(numpy.map((p) => [p.version, p.resolutionMarkers])).toEqual([
      ['2.2.6', ["python_full_version < '3.11'"]],
      ['2.4.6', ["python_full_version == '3.11.*'"]],
      ['2.5.5', ["python_full_version >= '3.12'"]],
    ]);
    const wheel = numpy[1].wheels.find((w) => w.filename === 'numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl');
    expect(wheel).toBeDefined();
    expect(wheel!.url).toMatch(/^https:\/\/files\.pythonhosted\.org\/packages\/.*\/numpy-2\.4\.6-cp311-cp311-manylinux_2_27_x86_64\.manylinux_2_28_x86_64\.whl$/);
    expect(wheel!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(wheel!.hash).toBe(`sha256:${wheel!.sha256}`);
    expect(numpy[1].sdist!.filename).toBe('numpy-2.4.6.tar.gz');
    // The line of the package's [[package]] header.
    expect(fixtureText('workspace', 'uv.lock').split('\n')[numpy[1].line! - 1]).toBe('[[package]]');
    expect(fixtureText('workspace', 'uv.lock').split('\n')[numpy[1].line!]).toBe('name = "numpy"');

    const docopt = lock.packages.find((p) => p.name === 'docopt')!;
    expect(docopt.wheels).toEqual([]);
    expect(docopt.sdist).toMatchObject({ filename: 'docopt-0.6.2.tar.gz' });
  });

  it('reads direct URL, git, path and directory sources', () => {
    const lock = parseUvLock(fixtureText('sources', 'uv.lock'), 'uv.lock');
    const get = (n: string) => lock.packages.find((p) => p.name === n)!;
    expect(get('attrs').source).toEqual({
      kind: 'url',
      url: 'https://files.pythonhosted.org/packages/3a/2a/7cc015f5b9f5db42b7d48157e23356022889fc354a2813c15934b7cb5c0e/attrs-25.4.0-py3-none-any.whl',
    });
    expect(get('attrs').wheels.map((w) => w.filename)).toEqual(['attrs-25.4.0-py3-none-any.whl']);
    expect(get('gitpkg').source).toEqual({ kind: 'git', url: 'file:///tmp/gitpkg?rev=v0.9.0#ce9418baf5a61bd20f228344a97196e317800a4d' });
    expect(sourceKey(get('gitpkg').source)).toBe('git+file:///tmp/gitpkg?rev=v0.9.0#ce9418baf5a61bd20f228344a97196e317800a4d');
    expect(get('localpkg').source).toEqual({ kind: 'directory', path: 'vendor/localpkg' });
    expect(get('six').source).toEqual({ kind: 'path', path: 'wheels/six-1.17.0-py2.py3-none-any.whl' });
    expect(get('six').wheels).toEqual([
      {
        filename: 'six-1.17.0-py2.py3-none-any.whl',
        path: 'wheels/six-1.17.0-py2.py3-none-any.whl',
        sha256: '4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274',
        hash: 'sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274',
      },
    ]);
    expect(get('sourcy').requiresDist).toEqual([
      'attrs @ https://files.pythonhosted.org/packages/3a/2a/7cc015f5b9f5db42b7d48157e23356022889fc354a2813c15934b7cb5c0e/attrs-25.4.0-py3-none-any.whl',
      'gitpkg @ git+file:///tmp/gitpkg@v0.9.0',
      'localpkg',
      'six',
    ]);
  });

  it('reads conflict sets', () => {
    const lock = parseUvLock(fixtureText('conflicts', 'uv.lock'), 'uv.lock');
    expect(lock.conflicts).toEqual([
      [
        { package: 'conflicted', extra: 'new' },
        { package: 'conflicted', extra: 'old' },
      ],
    ]);
  });

  it('resolves wheel paths of a local index relative to the lock directory', () => {
    const lock = parseUvLock(
      [
        'version = 1',
        'revision = 3',
        'requires-python = ">=3.11"',
        '',
        '[[package]]',
        'name = "Foo_Bar"',
        'version = "1.0"',
        'source = { registry = "../wheelhouse" }',
        'wheels = [{ path = "foo_bar-1.0-py3-none-any.whl", hash = "sha256:' + 'AB'.repeat(32) + '", size = 1234 }]',
      ].join('\n'),
      'proj/uv.lock',
    );
    expect(lock.packages[0].name).toBe('foo-bar');
    expect(lock.packages[0].wheels[0]).toEqual({
      filename: 'foo_bar-1.0-py3-none-any.whl',
      path: '../wheelhouse/foo_bar-1.0-py3-none-any.whl',
      sha256: 'ab'.repeat(32),
      hash: 'sha256:' + 'AB'.repeat(32),
      size: 1234,
    });
    expect(lock.packages[0].line).toBe(5);
    expect(lock.workspaceMembers).toEqual([]);
  });
});

describe('uv.lock errors', () => {
  function errorOf(fn: () => unknown): LockError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(LockError);
      expect(e).toBeInstanceOf(UserError);
      return e as LockError;
    }
    throw new Error('expected a LockError');
  }

  it('names the file, line and column of malformed TOML', () => {
    const text = fixtureText('simple', 'uv.lock').replace(/^name = "sniffio"$/m, 'name = "sniffio');
    const line = text.split('\n').findIndex((l) => l === 'name = "sniffio') + 1;
    const err = errorOf(() => parseUvLock(text, 'apps/uv.lock'));
    expect(err.name).toBe('LockError');
    expect(err.file).toBe('apps/uv.lock');
    expect(err.line).toBe(line);
    expect(err.message).toContain(`apps/uv.lock:${line}:`);
    expect(err.message).toContain('uv lock');
  });

  it('rejects an unsupported schema version', () => {
    const text = fixtureText('simple', 'uv.lock').replace(/^version = 1$/m, 'version = 2');
    const err = errorOf(() => parseUvLock(text, 'uv.lock'));
    expect(err.message).toMatch(/unsupported uv\.lock schema version 2 \(revision 5\); only version 1 is supported/);
  });

  it('rejects a file without a version', () => {
    const err = errorOf(() => parseUvLock('[[package]]\nname = "a"\n', 'x/uv.lock'));
    expect(err.message).toContain('x/uv.lock: top level: `version` is missing');
  });

  it('accepts any revision of schema version 1', () => {
    const text = fixtureText('simple', 'uv.lock').replace(/^revision = 5$/m, 'revision = 42');
    expect(parseUvLock(text, 'uv.lock').formatVersion).toEqual({ version: 1, revision: 42 });
    const none = fixtureText('simple', 'uv.lock').replace(/^revision = 5\n/m, '');
    expect(parseUvLock(none, 'uv.lock').formatVersion).toEqual({ version: 1, revision: 0 });
  });

  it('names the package and its line when an entry is malformed', () => {
    const text = fixtureText('simple', 'uv.lock').replace('name = "sniffio"\nversion = "1.3.1"\nsource = { registry = "https://pypi.org/simple" }', 'name = "sniffio"\nversion = "1.3.1"\nsource = { svn = "x" }');
    const line = text.split('\n').indexOf('name = "sniffio"');
    const err = errorOf(() => parseUvLock(text, 'uv.lock'));
    expect(err.message).toContain(`uv.lock:${line}: package 'sniffio 1.3.1': unknown source kind (svn)`);
    expect(err.line).toBe(line);
  });

  it('rejects a bad marker on a dependency', () => {
    const text = fixtureText('simple', 'uv.lock').replace(`{ name = "exceptiongroup", marker = "python_full_version < '3.11'" }`, `{ name = "exceptiongroup", marker = "python_full_version <<< '3.11'" }`);
    expect(text).toContain('<<<');
    const err = errorOf(() => parseUvLock(text, 'uv.lock'));
    expect(err.message).toMatch(/package 'anyio 4\.16\.0': dependency 'exceptiongroup' has an invalid marker/);
  });

  it('reports a missing file with the command that creates it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nx-pex-lock-'));
    await expect(readUvLock(join(dir, 'uv.lock'))).rejects.toThrow(/uv\.lock: lock file not found\. Run `uv lock`/);
    writeFileSync(join(dir, 'uv.lock'), 'version = 1\nrequires-python = ">=3.11"\n');
    await expect(readUvLock(join(dir, 'uv.lock'))).resolves.toMatchObject({ packages: [], requiresPython: '>=3.11' });
  });
});
