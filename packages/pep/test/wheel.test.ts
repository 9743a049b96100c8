import { InvalidWheelFilename, isWheelFilename, parseSdistFilename, parseWheelFilename, UserError } from '@nx-pex/pep';

describe('parseWheelFilename', () => {
  it('parses compressed tag sets', () => {
    const w = parseWheelFilename('numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl');
    expect(w).toEqual({
      filename: 'numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      distribution: 'numpy',
      name: 'numpy',
      version: '1.26.4',
      pythonTags: ['cp311'],
      abiTags: ['cp311'],
      platformTags: ['manylinux_2_17_x86_64', 'manylinux2014_x86_64'],
      tags: ['cp311-cp311-manylinux_2_17_x86_64', 'cp311-cp311-manylinux2014_x86_64'],
    });
    expect(parseWheelFilename('six-1.16.0-py2.py3-none-any.whl').tags).toEqual(['py2-none-any', 'py3-none-any']);
  });

  it('reads build tags, canonical names and paths', () => {
    const w = parseWheelFilename('/some/dir/Typing_Extensions-4.9.0-12abc-py3-none-any.whl');
    expect(w.filename).toBe('Typing_Extensions-4.9.0-12abc-py3-none-any.whl');
    expect(w.distribution).toBe('Typing_Extensions');
    expect(w.name).toBe('typing-extensions');
    expect(w.build).toEqual({ number: 12, tag: 'abc' });
    expect(parseWheelFilename('pex-2.105.2-py2.py35.py36.py37.py38.py39.py310.py311-none-any.whl').pythonTags).toHaveLength(8);
  });

  it.each([
    'foo-1.0-py3-none-any.zip',
    'foo-py3-none-any.whl',
    'foo-1.0-x-y-py3-none-any.whl',
    'foo-notaversion-py3-none-any.whl',
    'foo-1.0-abc-py3-none-any.whl',
    'foo__bar-1.0-py3-none-any.whl',
    'foo-1.0-py3..py2-none-any.whl',
  ])('rejects %s', (name) => {
    expect(isWheelFilename(name)).toBe(false);
    expect(() => parseWheelFilename(name)).toThrow(InvalidWheelFilename);
    try {
      parseWheelFilename(name);
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toContain(name);
    }
  });
});

describe('parseSdistFilename', () => {
  it('parses sdists', () => {
    expect(parseSdistFilename('Django-4.2.7.tar.gz')).toEqual({ name: 'django', version: '4.2.7' });
    expect(parseSdistFilename('zope.interface-6.1.zip')).toEqual({ name: 'zope-interface', version: '6.1' });
    expect(parseSdistFilename('python-dateutil-2.8.2.tar.gz')).toEqual({ name: 'python-dateutil', version: '2.8.2' });
  });
  it('returns undefined for other files', () => {
    expect(parseSdistFilename('six-1.16.0-py2.py3-none-any.whl')).toBeUndefined();
    expect(parseSdistFilename('foo.tar.gz')).toBeUndefined();
    expect(parseSdistFilename('foo-bar.tar.gz')).toBeUndefined();
  });
});
