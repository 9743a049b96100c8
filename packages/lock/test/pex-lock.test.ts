import { abbreviatedPlatform, parseRequirement } from '@nx-pex/pep';
import { LockError, looksLikePexLock, parsePexLock, pexLockClosure } from '../src';
import { linuxTarget, windowsTarget } from './helpers';

const H = (c: string) => c.repeat(64);

interface Q {
  name: string;
  version: string;
  deps?: string[];
  rp?: string;
  files: Array<string | { url: string; editable?: boolean; commit_id?: string }>;
}

function req(q: Q) {
  return {
    project_name: q.name,
    version: q.version,
    requires_dists: q.deps ?? [],
    requires_python: q.rp ?? null,
    artifacts: q.files.map((f, i) =>
      typeof f === 'string'
        ? { algorithm: 'sha256', hash: H(((q.name.length + i) % 10).toString()), url: `https://files.example/${f}` }
        : { algorithm: 'sha256', hash: H('d'), ...f },
    ),
  };
}

/** A lock in the shape `pex3 lock create --indent 2` writes (keys sorted). */
function lockText(opts: { style?: string; requirements: string[]; resolves: Array<{ tag?: [string, string, string]; marker?: string; reqs: Q[] }>; extra?: Record<string, unknown> }): string {
  const doc = {
    allow_builds: true,
    allow_prereleases: false,
    allow_wheels: true,
    build_isolation: true,
    constraints: [],
    elide_unused_requires_dist: false,
    excluded: [],
    locked_resolves: opts.resolves.map((r) => ({ locked_requirements: r.reqs.map(req), marker: r.marker ?? null, platform_tag: r.tag ?? null })),
    only_builds: [],
    only_wheels: [],
    overridden: [],
    path_mappings: {},
    pex_version: '2.105.2',
    pip_version: '24.2',
    prefer_older_binary: false,
    requirements: opts.requirements,
    requires_python: [],
    resolver_version: 'pip-2020-resolver',
    style: opts.style ?? 'strict',
    target_systems: [],
    transitive: true,
    use_pep517: null,
    use_system_time: false,
    ...opts.extra,
  };
  return JSON.stringify(sortKeys(doc), null, 2);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

const requests: Q[] = [
  { name: 'requests', version: '2.32.3', deps: ['certifi>=2017.4.17', 'urllib3<3,>=1.21.1', 'PySocks!=1.5.7,>=1.5.6; extra == "socks"'], rp: '>=3.8', files: ['requests-2.32.3-py3-none-any.whl', 'requests-2.32.3.tar.gz'] },
  { name: 'certifi', version: '2024.8.30', files: ['certifi-2024.8.30-py3-none-any.whl'] },
  { name: 'urllib3', version: '2.2.3', deps: ['brotli>=1.0.9; platform_python_implementation == "CPython" and extra == "brotli"'], files: ['urllib3-2.2.3-py3-none-any.whl'] },
  { name: 'click', version: '8.1.7', deps: ['colorama; platform_system == "Windows"'], files: ['click-8.1.7-py3-none-any.whl'] },
  { name: 'colorama', version: '0.4.6', files: ['colorama-0.4.6-py2.py3-none-any.whl'] },
];

const names = (c: { thirdParty: Array<{ name: string }> }) => c.thirdParty.map((p) => p.name);

describe('parsePexLock', () => {
  it('reads the style, requirements and each resolve\'s locked projects with their files and lines', () => {
    const text = lockText({ requirements: ['click', 'requests'], resolves: [{ tag: ['cp311', 'cp311', 'manylinux_2_36_x86_64'], reqs: requests }] });
    expect(looksLikePexLock(text)).toBe(true);
    const lock = parsePexLock(text, 'lock.json');
    expect(lock.style).toBe('strict');
    expect(lock.requirements).toEqual(['click', 'requests']);
    expect(lock.lockedResolves[0]!.platformTag).toEqual(['cp311', 'cp311', 'manylinux_2_36_x86_64']);
    const r = lock.lockedResolves[0]!.requirements[0]!;
    expect(r).toMatchObject({ name: 'requests', version: '2.32.3', requiresPython: '>=3.8' });
    expect(r.artifacts.map((a) => a.url)).toEqual(['https://files.example/requests-2.32.3-py3-none-any.whl', 'https://files.example/requests-2.32.3.tar.gz']);
    expect(text.split('\n')[r.line! - 1]).toContain('"project_name": "requests"');
  });

  it('names what is wrong, where', () => {
    expect(() => parsePexLock('{"locked_resolves": 3}', 'lock.json')).toThrow(/lock\.json: top level: "locked_resolves" is missing or not a list/);
    expect(() => parsePexLock('{ nope', 'lock.json')).toThrow(/lock\.json: not valid JSON/);
    const bad = lockText({ requirements: ['x'], resolves: [{ reqs: [{ name: 'x', version: '1', files: [] }] }] });
    expect(() => parsePexLock(bad, 'lock.json')).toThrow(/lock\.json:\d+: locked_resolves\[0\]\.locked_requirements\[0\] \(x 1\): has no artifacts/);
    expect(() => parsePexLock(lockText({ style: 'fancy', requirements: [], resolves: [] }), 'l.json')).toThrow(/"style" is 'fancy'; pex locks are strict, sources, universal/);
  });

  it('is told apart from other JSON', () => {
    expect(looksLikePexLock('{"name": "x", "dependencies": {}}')).toBe(false);
    expect(looksLikePexLock('requests==2.0\n')).toBe(false);
  });
});

describe('pexLockClosure: pex\'s subsetting', () => {
  const lock = parsePexLock(lockText({ requirements: ['click', 'requests'], resolves: [{ tag: ['cp311', 'cp311', 'manylinux_2_36_x86_64'], reqs: requests }] }), '/w/lock.json');

  it('without requirements takes the lock\'s own, following requires_dists whose markers hold', () => {
    const c = pexLockClosure(lock, [], linuxTarget('cp311'));
    expect(names(c)).toEqual(['certifi', 'click', 'requests', 'urllib3']);
    expect(c.root.requiresDist).toEqual(['click', 'requests']);
    // Each package keeps its files; the build picks the best one.
    expect(c.thirdParty.find((p) => p.name === 'requests')!.sdist!.filename).toBe('requests-2.32.3.tar.gz');
  });

  it('follows markers per target (colorama only on Windows) and extras of the requirement', () => {
    expect(names(pexLockClosure(lock, [parseRequirement('click')], windowsTarget()))).toEqual(['click', 'colorama']);
    expect(names(pexLockClosure(lock, [parseRequirement('click')], linuxTarget()))).toEqual(['click']);
  });

  it('fails as pex does when an extra needs a project the lock lacks, or a pin misses the specifier', () => {
    expect(() => pexLockClosure(lock, [parseRequirement('requests[socks]')], linuxTarget())).toThrow(/Dependency on pysocks \(via: requests\[socks\] -> PySocks!=1\.5\.7,>=1\.5\.6; extra == "socks"\) not satisfied: the lock has no pysocks/);
    expect(() => pexLockClosure(lock, [parseRequirement('click>=9')], linuxTarget())).toThrow(/click 8\.1\.7 does not satisfy >=9 \(via: click>=9\)/);
    expect(() => pexLockClosure(lock, [parseRequirement('flask')], linuxTarget())).toThrow(LockError);
  });

  it('skips a project whose requires_python excludes the target', () => {
    expect(() => pexLockClosure(lock, [parseRequirement('requests')], linuxTarget('cp38'))).not.toThrow();
    const old = parsePexLock(lockText({ requirements: ['a'], resolves: [{ reqs: [{ name: 'a', version: '1', rp: '>=3.12', files: ['a-1-py3-none-any.whl'] }] }] }), 'l.json');
    expect(() => pexLockClosure(old, [], linuxTarget('cp311'))).toThrow(/a 1 requires Python >=3\.12, and .* runs 3\.11/);
  });

  it('picks the most specific of several resolves (strict locks made for two platforms)', () => {
    const native = (tag: string): Q[] => [{ name: 'native', version: '1.0', files: [`native-1.0-${tag}.whl`] }];
    const two = parsePexLock(
      lockText({
        requirements: ['native'],
        resolves: [
          { tag: ['cp311', 'cp311', 'manylinux_2_36_x86_64'], reqs: [{ name: 'native', version: '1.0', files: ['native-1.0-py3-none-any.whl'] }] },
          { tag: ['cp311', 'cp311', 'manylinux_2_36_x86_64'], reqs: native('cp311-cp311-manylinux_2_17_x86_64') },
          { tag: ['cp312', 'cp312', 'manylinux_2_36_x86_64'], reqs: native('cp312-cp312-manylinux_2_17_x86_64') },
        ],
      }),
      'l.json',
    );
    expect(pexLockClosure(two, [], linuxTarget('cp311')).thirdParty[0]!.wheels[0]!.filename).toBe('native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl');
    expect(pexLockClosure(two, [], linuxTarget('cp312')).thirdParty[0]!.wheels[0]!.filename).toBe('native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl');
    // A foreign platform only the pure wheel fits.
    expect(pexLockClosure(two, [], abbreviatedPlatform('macosx_11_0_arm64-cp-313-cp313')).thirdParty[0]!.wheels[0]!.filename).toBe('native-1.0-py3-none-any.whl');
  });

  it('takes the split resolve of a universal lock whose marker holds', () => {
    const split = parsePexLock(
      lockText({
        style: 'universal',
        requirements: ['numpy'],
        extra: { requires_python: ['<3.14,>=3.9'] },
        resolves: [
          { marker: "python_version < '3.10'", reqs: [{ name: 'numpy', version: '2.0.2', files: ['numpy-2.0.2-py3-none-any.whl'] }] },
          { marker: "python_version >= '3.10'", reqs: [{ name: 'numpy', version: '2.2.0', files: ['numpy-2.2.0-py3-none-any.whl'] }] },
        ],
      }),
      'l.json',
    );
    expect(pexLockClosure(split, [], linuxTarget('cp39')).thirdParty[0]!.version).toBe('2.0.2');
    expect(pexLockClosure(split, [], linuxTarget('cp311')).thirdParty[0]!.version).toBe('2.2.0');
    expect(() => pexLockClosure(split, [], abbreviatedPlatform('linux_x86_64-cp-38-cp38'))).toThrow(/runs Python 3\.8.*outside the lock's interpreter constraints \(<3\.14,>=3\.9\)/);
  });

  it('fails when no file fits the target, naming the files', () => {
    const l = parsePexLock(lockText({ requirements: ['native'], resolves: [{ reqs: [{ name: 'native', version: '1.0', files: ['native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl'] }] }] }), 'l.json');
    expect(() => pexLockClosure(l, [], windowsTarget())).toThrow(/native 1\.0 has no file for .*win_amd64: native-1\.0-cp311-cp311-manylinux_2_17_x86_64\.whl/);
  });

  it('takes local project directories as first-party, relative to the lock', () => {
    const l = parsePexLock(
      lockText({
        requirements: ['app @ file:///w/app'],
        resolves: [{ reqs: [{ name: 'app', version: '0.1', deps: ['click'], files: [{ url: 'file:///w/app', editable: false }] }, requests[3]!] }],
      }),
      '/w/lock.json',
    );
    const c = pexLockClosure(l, [], linuxTarget());
    expect(c.firstParty.map((p) => [p.name, p.source])).toEqual([['app', { kind: 'directory', path: 'app' }]]);
    expect(names(c)).toEqual(['click']);
  });

  it('refuses what it cannot honour: path mappings, excludes and overrides', () => {
    const mapped = parsePexLock(lockText({ requirements: [], resolves: [], extra: { path_mappings: { WHEELS: 'where wheels are' } } }), 'l.json');
    expect(() => pexLockClosure(mapped, [], linuxTarget())).toThrow(/path mappings \(WHEELS\)/);
    const excl = parsePexLock(lockText({ requirements: [], resolves: [], extra: { excluded: ['certifi'] } }), 'l.json');
    expect(() => pexLockClosure(excl, [], linuxTarget())).toThrow(/--exclude certifi/);
  });
});
