import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  abbreviatedPlatform,
  completePlatform,
  evaluateMarker,
  InvalidPlatformError,
  MarkerEvaluationError,
  nearestPlatforms,
  parsePlatformSpec,
  platformTagsOf,
} from '@nx-pex/pep';

describe('parsePlatformSpec (pex platform strings)', () => {
  it('reads the four fields of the forms pex documents', () => {
    expect(parsePlatformSpec('manylinux2014_aarch64-cp-311-cp311')).toEqual({
      platform: 'manylinux2014_aarch64',
      impl: 'cp',
      version: '311',
      versionInfo: [3, 11],
      abi: 'cp311',
    });
    expect(parsePlatformSpec('linux-x86_64-cp-37-m')).toMatchObject({ platform: 'linux_x86_64', abi: 'cp37m', versionInfo: [3, 7] });
    expect(parsePlatformSpec('macosx-10.13-x86_64-cp-3.11.9-cp311')).toMatchObject({
      platform: 'macosx_10_13_x86_64',
      versionInfo: [3, 11, 9],
      abi: 'cp311',
    });
    expect(parsePlatformSpec('linux_x86_64-pp-39-pypy39_pp73')).toMatchObject({ impl: 'pp', abi: 'pypy39_pp73' });
  });

  it.each([
    ['manylinux2014_x86_64-cp-311', /expected 4 fields.*found 3/],
    ['linux_x86_64-cp-3-cp3', /2 or more digits/],
    ['linux_x86_64-cp-3.x-cp311', /not made of numbers/],
    ['linux_x86_64--311-cp311', /a field is empty/],
  ])('refuses %s naming what is wrong and the accepted forms', (text, why) => {
    expect(() => parsePlatformSpec(text)).toThrow(InvalidPlatformError);
    expect(() => parsePlatformSpec(text)).toThrow(why);
    expect(() => parsePlatformSpec(text)).toThrow(/manylinux2014_x86_64-cp-311-cp311/);
  });
});

describe('platformTagsOf', () => {
  it('walks the manylinux ladder down from the glibc a legacy name stands for', () => {
    const tags = platformTagsOf('manylinux2014_x86_64');
    expect(tags.slice(0, 3)).toEqual(['manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux_2_16_x86_64']);
    expect(tags).toContain('manylinux2010_x86_64');
    expect(tags.slice(-2)).toEqual(['manylinux_2_5_x86_64', 'manylinux1_x86_64']);
    // manylinux wheels for aarch64 start at glibc 2.17.
    expect(platformTagsOf('manylinux2014_aarch64')).toEqual(['manylinux_2_17_aarch64', 'manylinux2014_aarch64']);
    expect(platformTagsOf('manylinux_2_28_aarch64')[0]).toBe('manylinux_2_28_aarch64');
    expect(platformTagsOf('manylinux_2_28_aarch64')).toHaveLength(13);
  });

  it('walks the musllinux ladder', () => {
    expect(platformTagsOf('musllinux_1_2_x86_64')).toEqual(['musllinux_1_2_x86_64', 'musllinux_1_1_x86_64', 'musllinux_1_0_x86_64']);
  });

  it('gives macOS versions, universal2 and the older 10.x universal2 wheels', () => {
    const tags = platformTagsOf('macosx_11_0_arm64');
    expect(tags.slice(0, 2)).toEqual(['macosx_11_0_arm64', 'macosx_11_0_universal2']);
    expect(tags).toContain('macosx_10_9_universal2');
    expect(tags).not.toContain('macosx_10_9_x86_64');
    expect(platformTagsOf('macosx_14_0_arm64').slice(0, 4)).toEqual([
      'macosx_14_0_arm64',
      'macosx_14_0_universal2',
      'macosx_13_0_arm64',
      'macosx_13_0_universal2',
    ]);
    expect(platformTagsOf('macosx_10_15_x86_64')).toContain('macosx_10_9_intel');
  });

  it('takes linux_<arch> with pex default --manylinux manylinux2014', () => {
    const tags = platformTagsOf('linux_x86_64');
    expect(tags[0]).toBe('manylinux_2_17_x86_64');
    expect(tags[tags.length - 1]).toBe('linux_x86_64');
    expect(platformTagsOf('win_amd64')).toEqual(['win_amd64']);
  });
});

interface Oracle {
  platforms: Record<string, { markers: Record<string, string>; tags: string[] }>;
}
const oracle = JSON.parse(fs.readFileSync(path.join(__dirname, 'data/pip-oracle.json'), 'utf8')) as Oracle;

describe('abbreviatedPlatform against pex', () => {
  for (const [spec, pex] of Object.entries(oracle.platforms)) {
    it(`${spec}: pex's marker environment, and pex's tags in pex's order`, () => {
      const target = abbreviatedPlatform(spec);
      expect(target.id).toBe(spec);
      expect(target.platform).toEqual({ kind: 'abbreviated', spec });
      expect({ ...target.markerEnvironment }).toEqual(pex.markers);
      // pex asks pip, which knows no ladders: every one of pex's tags is ours, in the same order;
      // ours add the manylinux_2_x / musllinux_1_x rungs below the named one.
      const position = new Map(target.supportedTags.map((t, i) => [t, i]));
      const positions = pex.tags.map((t) => position.get(t));
      expect(positions.every((p) => p !== undefined)).toBe(true);
      expect([...positions].sort((a, b) => a! - b!)).toEqual(positions);
      // pex's best tag is ours too, after its PEP 600 twin (manylinux_2_17 for manylinux2014).
      expect(target.supportedTags.indexOf(pex.tags[0]!)).toBeLessThanOrEqual(1);
    });
  }

  it('fills what pex fills for linux, manylinux_2_x and windows platforms', () => {
    expect({ ...abbreviatedPlatform('linux_x86_64-cp-3.11.9-cp311').markerEnvironment }).toEqual({
      implementation_name: 'cpython',
      os_name: 'posix',
      platform_machine: 'x86_64',
      platform_python_implementation: 'CPython',
      platform_system: 'Linux',
      python_full_version: '3.11.9',
      python_version: '3.11',
      sys_platform: 'linux',
    });
    expect(abbreviatedPlatform('manylinux_2_28_aarch64-cp-312-cp312').markerEnvironment.platform_machine).toBe('aarch64');
    expect(abbreviatedPlatform('win_amd64-cp-312-cp312').markerEnvironment).toMatchObject({ os_name: 'nt', sys_platform: 'win32', platform_machine: 'amd64' });
    expect(abbreviatedPlatform('linux_x86_64-cp-3.11.9-cp311').pythonVersion).toBe('3.11.9');
  });

  it('refuses non-CPython and ABIs of another version', () => {
    expect(() => abbreviatedPlatform('linux_x86_64-pp-39-pypy39_pp73')).toThrow(/PyPy; only CPython/);
    expect(() => abbreviatedPlatform('linux_x86_64-cp-311-cp312')).toThrow(/ABI "cp311cp312"/);
    expect(abbreviatedPlatform('linux_x86_64-cp-37-m').supportedTags[0]).toBe('cp37-cp37m-manylinux_2_17_x86_64');
  });

  it('decides python_full_version markers that hold alike for every patch release, and names the ones that do not', () => {
    const env = abbreviatedPlatform('manylinux2014_x86_64-cp-311-cp311').markerEnvironment;
    expect(evaluateMarker('python_full_version < "3.11"', env)).toBe(false);
    expect(evaluateMarker('python_full_version >= "3.8" and python_full_version < "3.13"', env)).toBe(true);
    expect(evaluateMarker('"3.12" > python_full_version', env)).toBe(true);
    expect(() => evaluateMarker('python_full_version >= "3.11.4"', env)).toThrow(MarkerEvaluationError);
    expect(() => evaluateMarker('python_full_version >= "3.11.4"', env)).toThrow(/patch release of Python 3.11.*cp-3.11.9/);
    // pex leaves these out: a marker needing them cannot be evaluated.
    expect(() => evaluateMarker('platform_release >= "5"', env)).toThrow(/no value for 'platform_release'/);
    const full = abbreviatedPlatform('manylinux2014_x86_64-cp-3.11.2-cp311').markerEnvironment;
    expect(evaluateMarker('python_full_version >= "3.11.4"', full)).toBe(false);
  });
});

describe('completePlatform', () => {
  const file = path.join(__dirname, 'fixtures/complete-platform-cp312-linux.json');
  const text = fs.readFileSync(file, 'utf8');
  const data = JSON.parse(text) as { compatible_tags: string[]; marker_environment: Record<string, string> };

  it('takes the marker environment and the tags of `pex3 interpreter inspect --markers --tags`', () => {
    const target = completePlatform(text, file);
    expect(target.supportedTags).toEqual(data.compatible_tags);
    expect({ ...target.markerEnvironment }).toEqual(data.marker_environment);
    expect(target.pythonVersion).toBe('3.12.1');
    expect(target.id).toBe('cp312-cp312-manylinux_2_36_x86_64');
    expect(target.platform).toEqual({ kind: 'complete', spec: target.id });
  });

  it('expands compressed tags and accepts a subset of markers', () => {
    const target = completePlatform(
      JSON.stringify({
        marker_environment: { python_version: '3.12', sys_platform: 'linux', platform_machine: 'aarch64' },
        compatible_tags: ['cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64', 'cp312-abi3-manylinux2014_aarch64', 'py3-none-any'],
      }),
      'a JSON string',
    );
    expect(target.supportedTags).toEqual([
      'cp312-cp312-manylinux_2_17_aarch64',
      'cp312-cp312-manylinux2014_aarch64',
      'cp312-abi3-manylinux2014_aarch64',
      'py3-none-any',
    ]);
    expect(target.pythonVersion).toBe('3.12');
  });

  it.each([
    ['not json', /is not JSON/],
    ['[]', /is not a JSON object/],
    ['{"compatible_tags": ["py3-none-any"]}', /no 'marker_environment'/],
    ['{"marker_environment": {}}', /no 'compatible_tags'/],
    ['{"marker_environment": {"python_version": "3.12", "os": "linux"}, "compatible_tags": ["py3-none-any"]}', /marker "os", which PEP 508 does not define/],
    ['{"marker_environment": {"python_version": 3.12}, "compatible_tags": ["py3-none-any"]}', /non-string value for the marker "python_version"/],
    ['{"marker_environment": {"python_version": "3.12"}, "compatible_tags": ["cp312"]}', /tag "cp312"/],
    ['{"marker_environment": {"platform_python_implementation": "PyPy", "python_version": "3.10"}, "compatible_tags": ["py3-none-any"]}', /PyPy; only CPython/],
  ])('refuses %s', (json, why) => {
    expect(() => completePlatform(json, 'platform.json')).toThrow(InvalidPlatformError);
    expect(() => completePlatform(json, 'platform.json')).toThrow(why);
    expect(() => completePlatform(json, 'platform.json')).toThrow(/platform\.json.*pex3 interpreter inspect --markers --tags/s);
  });
});

describe('nearestPlatforms', () => {
  it('orders wheels and platform suggestions by how near they are to the target', () => {
    const files = [
      'numpy-2.5.5-cp313-cp313-macosx_14_0_arm64.whl',
      'numpy-2.5.5-cp312-cp312-win_amd64.whl',
      'numpy-2.5.5-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl',
      'numpy-2.5.5-cp312-cp312-musllinux_1_2_aarch64.whl',
      'numpy-2.5.5.tar.gz',
      'six-1.0-py2.py3-none-any.whl',
    ];
    const near = nearestPlatforms(files, abbreviatedPlatform('manylinux2014_aarch64-cp-312-cp312'));
    expect(near.wheels.slice(0, 2)).toEqual([files[2], files[3]]);
    expect(near.platforms).toEqual(['manylinux_2_27_aarch64-cp-312-cp312', 'musllinux_1_2_aarch64-cp-312-cp312', 'win_amd64-cp-312-cp312']);
  });
});
