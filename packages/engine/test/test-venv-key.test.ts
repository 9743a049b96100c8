import { testVenvKey } from '@nx-pex/engine';

const pkg = (name: string, version: string) => ({ name, version, source: { kind: 'registry' as const, url: 'https://pypi.org/simple' }, wheels: [], dependencies: [], optionalDependencies: {}, dependencyGroups: {} });
const wheel = (filename: string, sha256: string) => ({ filename, sha256 });
const selection = (pytestSha = 'a'.repeat(64)) => ({
  wheels: [
    { pkg: pkg('pytest', '9.2.0'), wheel: wheel('pytest-9.2.0-py3-none-any.whl', pytestSha) },
    { pkg: pkg('pluggy', '1.7.0'), wheel: wheel('pluggy-1.7.0-py3-none-any.whl', 'b'.repeat(64)) },
  ],
  sdists: [],
});
const cp311 = { executable: '/usr/bin/python3.11', version: '3.11.7', abiflags: '', target: 'cp311-cp311-manylinux_2_36_x86_64' };

describe('the key of a test environment in the store', () => {
  it('is the same for the same wheels and interpreter, whatever their order or where the lock lists them', () => {
    const a = selection();
    const b = { ...a, wheels: [...a.wheels].reverse().map((w) => ({ ...w, wheel: { ...w.wheel, url: 'https://mirror.example/x.whl' } })) };
    expect(testVenvKey(a, cp311)).toBe(testVenvKey(b, cp311));
    expect(testVenvKey(a, cp311)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with any wheel, and with the interpreter (path, version, platform)', () => {
    const base = testVenvKey(selection(), cp311);
    expect(testVenvKey(selection('c'.repeat(64)), cp311)).not.toBe(base);
    expect(testVenvKey(selection(), { ...cp311, executable: '/opt/python/bin/python3.11' })).not.toBe(base);
    expect(testVenvKey(selection(), { ...cp311, version: '3.11.8' })).not.toBe(base);
    expect(testVenvKey(selection(), { ...cp311, target: 'cp311-cp311-musllinux_1_2_x86_64' })).not.toBe(base);
  });
});
