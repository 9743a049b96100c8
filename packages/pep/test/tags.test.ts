import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  InterpreterInfo,
  manylinuxPlatforms,
  parseWheelFilename,
  selectBestWheel,
  supportedTags,
  targetFromInterpreter,
  UnsupportedInterpreter,
  wheelRank,
} from '@nx-pex/pep';

// Captured from packaging 26.3 (packaging.tags.sys_tags() on CPython 3.11.7 / glibc 2.36 / x86_64,
// and packaging's cpython_tags + compatible_tags over its musllinux and mac_platforms rules).
interface Case {
  info: InterpreterInfo;
  tags?: string[];
  prefix?: string[];
  suffix?: string[];
  count: number;
  sha256: string;
}
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/packaging-tags.json'), 'utf8')) as { cases: Record<string, Case> };
const sha = (tags: string[]) => createHash('sha256').update(tags.join('\n')).digest('hex');

describe('supportedTags matches packaging', () => {
  for (const [name, c] of Object.entries(fixture.cases)) {
    it(name, () => {
      const tags = supportedTags(c.info);
      if (c.tags) expect(tags).toEqual(c.tags);
      if (c.prefix) expect(tags.slice(0, c.prefix.length)).toEqual(c.prefix);
      if (c.suffix) expect(tags.slice(-c.suffix.length)).toEqual(c.suffix);
      expect(tags).toHaveLength(c.count);
      expect(sha(tags)).toBe(c.sha256);
    });
  }
});

describe('CPython 3.11 on glibc 2.36 x86_64', () => {
  const target = targetFromInterpreter(fixture.cases.glibc.info);
  const tags = target.supportedTags;
  const pos = (t: string) => {
    const i = tags.indexOf(t);
    expect(i).toBeGreaterThanOrEqual(0);
    return i;
  };

  it('names the target by its best tag', () => {
    expect(target.id).toBe('cp311-cp311-manylinux_2_36_x86_64');
    expect(target.supportedTags[0]).toBe('cp311-cp311-linux_x86_64');
    expect(target.pythonVersion).toBe('3.11.7');
    expect(target.markerEnvironment.python_version).toBe('3.11');
  });

  it('places legacy manylinux aliases right after their PEP 600 twin', () => {
    expect(pos('cp311-cp311-manylinux2014_x86_64')).toBe(pos('cp311-cp311-manylinux_2_17_x86_64') + 1);
    expect(pos('cp311-cp311-manylinux2010_x86_64')).toBe(pos('cp311-cp311-manylinux_2_12_x86_64') + 1);
    expect(pos('cp311-cp311-manylinux1_x86_64')).toBe(pos('cp311-cp311-manylinux_2_5_x86_64') + 1);
    expect(tags).not.toContain('cp311-cp311-manylinux_2_4_x86_64');
    expect(tags).not.toContain('cp311-cp311-manylinux_2_37_x86_64');
    expect(tags).not.toContain('cp311-cp311-musllinux_1_2_x86_64');
  });

  it('orders abi3, none, older abi3 and pure tags like packaging', () => {
    const order = [
      'cp311-cp311-linux_x86_64',
      'cp311-cp311-manylinux_2_36_x86_64',
      'cp311-cp311-manylinux1_x86_64',
      'cp311-abi3-manylinux_2_36_x86_64',
      'cp311-none-manylinux_2_36_x86_64',
      'cp310-abi3-manylinux_2_36_x86_64',
      'cp32-abi3-linux_x86_64',
      'py311-none-manylinux_2_36_x86_64',
      'py3-none-manylinux_2_17_x86_64',
      'py30-none-linux_x86_64',
      'cp311-none-any',
      'py311-none-any',
      'py3-none-any',
      'py30-none-any',
    ];
    const positions = order.map(pos);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(tags[tags.length - 1]).toBe('py30-none-any');
    expect(tags).not.toContain('cp31-abi3-linux_x86_64');
  });

  it('ranks wheels and rejects incompatible ones', () => {
    const rank = (f: string) => wheelRank(parseWheelFilename(f), target);
    expect(rank('numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl')).toBe(pos('cp311-cp311-manylinux_2_17_x86_64'));
    expect(rank('six-1.16.0-py2.py3-none-any.whl')).toBe(pos('py3-none-any'));
    expect(rank('cryptography-42.0.5-cp39-abi3-manylinux_2_28_x86_64.whl')).toBe(pos('cp39-abi3-manylinux_2_28_x86_64'));
    expect(rank('numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl')).toBeUndefined();
    expect(rank('numpy-1.26.4-cp311-cp311-musllinux_1_1_x86_64.whl')).toBeUndefined();
    expect(rank('numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl')).toBeUndefined();
    expect(rank('numpy-1.26.4-cp311-cp311-win_amd64.whl')).toBeUndefined();
    expect(rank('thing-1.0-py2-none-any.whl')).toBeUndefined();
  });

  it('selects the best wheel, preferring higher build numbers on ties', () => {
    const files = [
      { filename: 'pkg-1.0.tar.gz' },
      { filename: 'pkg-1.0-py3-none-any.whl' },
      { filename: 'pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl' },
      { filename: 'pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl' },
      { filename: 'pkg-1.0-cp311-cp311-macosx_11_0_arm64.whl' },
      { filename: 'pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl' },
    ];
    expect(selectBestWheel(files, target)?.filename).toBe('pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl');
    const builds = [{ filename: 'pkg-1.0-1-py3-none-any.whl' }, { filename: 'pkg-1.0-2b-py3-none-any.whl' }, { filename: 'pkg-1.0-py3-none-any.whl' }];
    expect(selectBestWheel(builds, target)?.filename).toBe('pkg-1.0-2b-py3-none-any.whl');
    expect(selectBestWheel([{ filename: 'pkg-1.0-cp27-cp27mu-linux_x86_64.whl' }, { filename: 'not-a-wheel.txt' }], target)).toBeUndefined();
  });
});

describe('other interpreters', () => {
  const base = fixture.cases.glibc.info;

  it('debug builds list the debug ABI first', () => {
    const tags = supportedTags({ ...base, abiflags: 'd' });
    expect(tags[0]).toBe('cp311-cp311d-linux_x86_64');
    expect(tags).toContain('cp311-cp311-manylinux_2_36_x86_64');
  });

  it('free-threaded builds take abi3t instead of abi3', () => {
    const tags = supportedTags({ ...base, version: [3, 13, 1], abiflags: 't' });
    expect(tags[0]).toBe('cp313-cp313t-linux_x86_64');
    expect(tags).toContain('cp32-abi3t-manylinux1_x86_64');
    expect(tags.some((t) => t.includes('-abi3-'))).toBe(false);
  });

  it('manylinux floor is glibc 2.17 outside x86', () => {
    const plats = manylinuxPlatforms([2, 28], 'aarch64');
    expect(plats[0]).toBe('manylinux_2_28_aarch64');
    expect(plats.slice(-2)).toEqual(['manylinux_2_17_aarch64', 'manylinux2014_aarch64']);
    expect(manylinuxPlatforms([2, 28], 'sparc')).toEqual([]);
  });

  it('a linux interpreter without a known libc only gets linux_<arch>', () => {
    const { libc: _libc, ...noLibc } = base;
    const tags = supportedTags(noLibc);
    expect(tags[0]).toBe('cp311-cp311-linux_x86_64');
  });

  it('refuses non-CPython interpreters', () => {
    expect(() => supportedTags({ ...base, implementation: 'pypy' })).toThrow(UnsupportedInterpreter);
  });
});
