import { abbreviatedPlatform, evaluateMarker } from '@nx-pex/pep';
import { environmentMarker, targetsMarker } from '../src/lock-targets';

const linux311 = abbreviatedPlatform('manylinux2014_x86_64-cp-311-cp311');
const linux312 = abbreviatedPlatform('manylinux2014_x86_64-cp-312-cp312');
const arm312 = abbreviatedPlatform('manylinux2014_aarch64-cp-312-cp312');
const mac312 = abbreviatedPlatform('macosx_11_0_arm64-cp-312-cp312');
const musl311 = abbreviatedPlatform('musllinux_1_2_x86_64-cp-311-cp311');
const all = [linux311, linux312, arm312, mac312];

describe('markers of a lock for several targets', () => {
  it('the smallest marker that holds on exactly the chosen targets', () => {
    const cases: [string[], string | undefined][] = [
      [[linux311.id], 'python_version == "3.11"'],
      [[mac312.id], 'sys_platform == "darwin"'],
      [[linux312.id, arm312.id], 'sys_platform == "linux" and python_version == "3.12"'],
      [[linux311.id, linux312.id], 'platform_machine == "x86_64"'],
      [all.map((t) => t.id), undefined],
    ];
    for (const [chosen, want] of cases) {
      const marker = targetsMarker(all, new Set(chosen), 'pkg 1.0');
      expect(marker).toBe(want);
      if (marker) for (const t of all) expect(evaluateMarker(marker, t.markerEnvironment)).toBe(chosen.includes(t.id));
    }
  });

  it('each target has its environment, which holds on it alone', () => {
    for (const t of all) {
      const env = environmentMarker(t);
      expect(all.filter((u) => evaluateMarker(env, u.markerEnvironment))).toEqual([t]);
    }
  });

  it('targets markers cannot tell apart are an error when their choices differ', () => {
    expect(() => targetsMarker([linux311, musl311], new Set([linux311.id]), 'native 2.0')).toThrow(
      /native 2\.0 is chosen for .*manylinux.* but not for .*musllinux.*markers cannot tell these targets apart.*Lock them separately/,
    );
  });
});
