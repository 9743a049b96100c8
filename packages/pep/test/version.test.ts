import { canonicalizeName, compareVersions, InvalidSpecifier, isValidSpecifier, isValidVersion, normalizeSpecifier, versionSatisfies } from '@nx-pex/pep';

// [version, specifier, SpecifierSet(specifier).contains(version), ...contains(version, prereleases=True)] from packaging 26.3.
const PACKAGING: [string, string, boolean, boolean][] = [
  ['1.0', '>1.0a1', true, true],
  ['1.0+1', '==1.0+local', false, false],
  ['1.0+1', '!=1.0+local', true, true],
  ['1.0+1', '<=1.0', true, true],
  ['1.0.post1', '>1.0', false, false],
  ['1.0+loc', '>1.0', false, false],
  ['1.1', '>1.0', true, true],
  ['1.0.post2', '>1.0.post1', true, true],
  ['1.0+loc', '==1.0', true, true],
  ['1.0+loc', '<=1.0', true, true],
  ['1.0a1', '<1.0', false, false],
  ['0.9a1', '<1.0', true, true],
  ['0.9', '<1.0', true, true],
  ['1.0.dev1', '<1.0', false, false],
  ['2.0', '~=1.4', false, false],
  ['1.5', '~=1.4', true, true],
  ['1.4.5', '~=1.4.2', true, true],
  ['1.5.0', '~=1.4.2', false, false],
  ['1.0', '===1.0', true, true],
  ['1.0.0', '===1.0', false, false],
  ['1.0', '>=1.0,<2', true, true],
  ['2.0', '>=1.0,<2', false, false],
  ['1.2', '==1.*', true, true],
  ['2.0', '!=2.*', false, false],
  ['2.1', '!=2.0.*', true, true],
  ['2.0b1', '>=1.0', true, true],
  ['2.0b1', '>=2.0b1', true, true],
  ['2.0b1', '>=1.0,!=2.0a1', true, true],
  ['1.0.post1', '==1.0', false, false],
  ['1.0.post1', '>=1.0', true, true],
  ['1!1.0', '>=2.0', true, true],
  ['1.0', '>=1!0.5', false, false],
  ['3.13.0rc1', '>=3.8', true, true],
  ['3.13.0rc1', '<3.13', false, false],
  ['1.0', '', true, true],
  ['1.0a1', '', true, true],
  ['1.0.dev0', '!=1.0', true, true],
  ['0.1', '~=0.1.0.dev1', true, true],
];

describe('versionSatisfies agrees with packaging', () => {
  it.each(PACKAGING)('%s in %j', (version, specifier, byDefault, withPre) => {
    expect(versionSatisfies(version, specifier)).toBe(byDefault);
    expect(versionSatisfies(version, specifier, { prereleases: true })).toBe(withPre);
  });
});

describe('versions', () => {
  it('excludes pre-releases when asked', () => {
    expect(versionSatisfies('2.0b1', '>=1.0', { prereleases: false })).toBe(false);
    expect(versionSatisfies('2.0b1', '', { prereleases: false })).toBe(false);
    expect(versionSatisfies('2.0', '', { prereleases: false })).toBe(true);
  });

  it('accepts spaces in specifiers and rejects invalid ones', () => {
    expect(versionSatisfies('1.5', ' >= 1.0 , < 2 ')).toBe(true);
    expect(versionSatisfies('not a version', '>=1')).toBe(false);
    expect(versionSatisfies('foobar', '===foobar')).toBe(true);
    for (const bad of ['>=1.0.*', '~=1', 'garbage', '>=1.0,', '=>1.0', '==1.0+loc.*']) {
      expect(isValidSpecifier(bad)).toBe(false);
      expect(() => versionSatisfies('1.0', bad)).toThrow(InvalidSpecifier);
    }
    expect(normalizeSpecifier('>= 1.0, <2 ,>=1.0')).toBe('<2,>=1.0');
  });

  it('validates and orders PEP 440 versions', () => {
    for (const v of ['1.0', '1.0.0a1', '1.0rc1', '1!2.0', '1.0.post1.dev2', '1.0+ubuntu.1', 'v1.0', '1.0-1']) expect(isValidVersion(v)).toBe(true);
    for (const v of ['', 'foo', '1.0-', '1..0']) expect(isValidVersion(v)).toBe(false);
    const sorted = ['1.0.post1', '1.0', '1.0a1', '1.0.dev1', '1!0.1', '0.9', '1.0+local', '1.0rc1', '1.0b2'].sort(compareVersions);
    expect(sorted).toEqual(['0.9', '1.0.dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0+local', '1.0.post1', '1!0.1']);
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
  });

  it('orders every pair of versions as PEP 440 (packaging, @renovatebot/pep440) does', () => {
    // As packaging 26.4 sorts them (sorted(..., key=Version)).
    const sorted = [
      '0', '0.0.1', '0.9', '1.0.dev1', '1.0a1.dev1', '1.0a1', '1.0a1.post1', '1.0b2', '1.0rc1', '1.0rc1.post2.dev3',
      '1.0', '1.0+a.1', '1.0+local', '1.0+local.a', '1.0+local.1', '1.0+1', '1.0+1.a', '1.0.post0', '1.0.post1.dev2',
      '1.0.post1', '1.0.1', '1.1.dev0', '2.0a0.dev0', '1!0.1',
    ];
    const pep440 = require('@renovatebot/pep440') as { compare(a: string, b: string): number };
    for (const [i, a] of sorted.entries()) {
      for (const [j, b] of sorted.entries()) {
        expect([a, b, Math.sign(compareVersions(a, b))]).toEqual([a, b, Math.sign(i - j)]);
        expect(Math.sign(compareVersions(a, b))).toBe(Math.sign(pep440.compare(a, b)));
      }
    }
    expect(compareVersions('1.0c1', '1.0rc1')).toBe(0);
    expect(compareVersions('1.0-1', '1.0.post1')).toBe(0);
    expect(compareVersions('0.0', '0')).toBe(0);
  });

  it('canonicalizes names per PEP 503', () => {
    expect(canonicalizeName('Foo.Bar__baz--Qux')).toBe('foo-bar-baz-qux');
    expect(canonicalizeName('typing_extensions')).toBe('typing-extensions');
    expect(canonicalizeName('zope.interface')).toBe('zope-interface');
  });
});
