import { parse } from 'smol-toml';
import { allowedFormats, formatPylock, parseCoreMetadata } from '@nx-pex/resolver';

describe('core metadata', () => {
  it('reads Requires-Dist (with continuation lines), Requires-Python and Provides-Extra, not the body', () => {
    const m = parseCoreMetadata(
      'Metadata-Version: 2.1\r\nName: Foo_Bar\r\nVersion: 1.0\r\nRequires-Python: >=3.8\r\nRequires-Dist: a>=1;\r\n  extra == "x"\r\nProvides-Extra: X_Y\r\nRequires-Dist: b\r\n\r\nRequires-Dist: not-a-header\r\n',
    );
    expect(m).toEqual({ name: 'Foo_Bar', version: '1.0', requiresPython: '>=3.8', requiresDist: ['a>=1; extra == "x"', 'b'], providesExtra: ['x-y'] });
  });
});

describe("pip's format control", () => {
  it('names win over :all:, --only-binary over --no-binary', () => {
    expect(allowedFormats('a')).toEqual({ binary: true, source: true });
    expect(allowedFormats('a', { onlyBinary: [':all:'] })).toEqual({ binary: true, source: false });
    expect(allowedFormats('a', { onlyBinary: [':all:'], noBinary: ['A'] })).toEqual({ binary: false, source: true });
    expect(allowedFormats('a', { noBinary: [':all:'], onlyBinary: ['a'] })).toEqual({ binary: true, source: false });
    expect(allowedFormats('b', { noBinary: [':all:'], onlyBinary: ['a'] })).toEqual({ binary: false, source: true });
  });
});

describe('pylock.toml', () => {
  it('is valid TOML with PEP 751 keys, packages sorted, strings escaped', () => {
    const text = formatPylock({
      createdBy: 'nx-pex',
      requiresPython: '>=3.11',
      environments: ['sys_platform == "linux"'],
      packages: [
        { name: 'zed', version: '1.0', index: 'https://pypi.org/simple', wheels: [{ name: 'zed-1.0-py3-none-any.whl', url: 'https://h/zed-1.0-py3-none-any.whl', size: 10, sha256: 'a'.repeat(64) }] },
        { name: 'alpha', version: '2.0', marker: 'python_version == "3.12"', sdist: { name: 'alpha-2.0.tar.gz', url: 'https://h/alpha-2.0.tar.gz', sha256: 'b'.repeat(64) } },
        { name: 'local', version: '0.1', directory: 'libs/a "b"' },
      ],
    });
    const lock = parse(text) as any;
    expect(lock['lock-version']).toBe('1.0');
    expect(lock.environments).toEqual(['sys_platform == "linux"']);
    expect(lock.packages.map((p: any) => p.name)).toEqual(['alpha', 'local', 'zed']);
    expect(lock.packages[0].sdist).toEqual({ name: 'alpha-2.0.tar.gz', url: 'https://h/alpha-2.0.tar.gz', hashes: { sha256: 'b'.repeat(64) } });
    expect(lock.packages[0].marker).toBe('python_version == "3.12"');
    expect(lock.packages[1].directory).toEqual({ path: 'libs/a "b"', editable: false });
    expect(lock.packages[2].wheels[0].size).toBe(10);
  });
});
