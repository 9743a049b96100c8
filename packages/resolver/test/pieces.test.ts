import { allowedFormats, parseCoreMetadata } from '@nx-pex/resolver';

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
