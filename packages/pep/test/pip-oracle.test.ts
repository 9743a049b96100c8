/**
 * nx-pex's wheel choice for foreign platforms against pip's: for every requirement set and
 * platform in data/pip-oracle.json (made by tools/fixtures/pip-oracle.py from PyPI with pip
 * 23.2.1 and the real pex), the file nx-pex takes from the files PyPI lists is the file
 * `pip download --only-binary :all: --no-deps --platform ... --python-version ...
 * --implementation cp --abi ...` takes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { abbreviatedPlatform, canonicalizeName, evaluateMarker, selectWheelFor, type IndexedFile } from '@nx-pex/pep';

interface Oracle {
  pip: string;
  sets: Record<string, Array<{ requirement: string; marker: string | null }>>;
  choices: Record<string, Record<string, Record<string, string | null>>>;
  files: Record<string, IndexedFile[]>;
}
const oracle = JSON.parse(fs.readFileSync(path.join(__dirname, 'data/pip-oracle.json'), 'utf8')) as Oracle;

// Where nx-pex and pip differ on purpose: the target's libc runs older musllinux wheels too
// (PEP 656; packaging's musllinux ladder), while pip's --platform musllinux_1_2_x86_64 takes only
// musllinux_1_2 wheels. Each entry is checked to be exactly that case.
function ladderOnly(platform: string, chosen: string | undefined, pip: string | null): boolean {
  return platform.startsWith('musllinux_1_2_') && pip === null && chosen !== undefined && /musllinux_1_[01]_/.test(chosen);
}

describe(`wheel choice equals ${oracle.pip}'s`, () => {
  it('covers at least 15 requirement sets on 4 platforms', () => {
    expect(Object.keys(oracle.sets).length).toBeGreaterThanOrEqual(15);
    expect(Object.keys(oracle.choices)).toHaveLength(4);
  });

  for (const [platform, bySet] of Object.entries(oracle.choices)) {
    describe(platform, () => {
      const target = abbreviatedPlatform(platform);
      for (const [set, pins] of Object.entries(oracle.sets)) {
        it(set, () => {
          const pipChoice = bySet[set]!;
          const applying: string[] = [];
          for (const pin of pins) {
            const name = canonicalizeName(pin.requirement.split('==')[0]!);
            if (!pin.marker || evaluateMarker(pin.marker, target.markerEnvironment)) applying.push(name);
          }
          // The same pins apply for nx-pex's marker environment as for pex's.
          expect(applying.sort()).toEqual(Object.keys(pipChoice).sort());
          const ours: Record<string, string | null> = {};
          const expected: Record<string, string | null> = {};
          for (const pin of pins) {
            const [rawName, version] = pin.requirement.split('==') as [string, string];
            const name = canonicalizeName(rawName);
            if (!(name in pipChoice)) continue;
            const chosen = selectWheelFor(oracle.files[`${name}==${version}`] ?? [], target)?.filename;
            const pip = pipChoice[name]!;
            ours[name] = chosen ?? null;
            expected[name] = ladderOnly(platform, chosen, pip) ? chosen! : pip;
          }
          expect(ours).toEqual(expected);
        });
      }
    });
  }
});
