/**
 * nx-pex's wheel choice for foreign platforms against pip's: for every requirement set and
 * platform in data/pip-oracle.json (made by tools/fixtures/pip-oracle.py from PyPI with pip
 * 23.2.1 and the real pex), the file nx-pex takes from the files PyPI lists is the file
 * `pip download --only-binary :all: --no-deps --platform ... --python-version ...
 * --implementation cp --abi ...` takes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  abbreviatedPlatform,
  canonicalizeName,
  evaluateMarker,
  parseWheelFilename,
  selectWheelFor,
  wheelRank,
  type IndexedFile,
  type TargetPlatform,
} from '@nx-pex/pep';

interface Oracle {
  pip: string;
  sets: Record<string, Array<{ requirement: string; marker: string | null }>>;
  choices: Record<string, Record<string, Record<string, string | null>>>;
  files: Record<string, IndexedFile[]>;
}
const oracle = JSON.parse(fs.readFileSync(path.join(__dirname, 'data/pip-oracle.json'), 'utf8')) as Oracle;

// Where nx-pex and pip differ on purpose: pip's --platform takes only the tags it names (and
// manylinux2014's legacy aliases), while nx-pex takes what packaging.tags gives such a machine:
// the manylinux_2_x ladder (a wheel tagged only manylinux_2_17_aarch64 fits manylinux2014_aarch64)
// and the musllinux ladder (musl 1.2 runs musllinux_1_1 wheels, PEP 656). A difference passes only
// when nx-pex's file fits through a tag pex's own tag list for the platform lacks, and pip found
// nothing or a worse-ranked file.
function ladderOnly(platform: string, chosen: string | undefined, pip: string | null, target: TargetPlatform): boolean {
  if (chosen === undefined) return false;
  const pexTags = new Set(oracle.platforms[platform]!.tags);
  const ours = wheelRank(parseWheelFilename(chosen), target)!;
  if (pexTags.has(target.supportedTags[ours]!)) return false;
  return pip === null || ours < wheelRank(parseWheelFilename(pip), target)!;
}

const ladder: string[] = [];
let compared = 0;
afterAll(() => {
  console.log(`${compared} wheel choices compared with ${oracle.pip}; ${ladder.length} taken through a ladder tag pip does not know:\n  ${ladder.join('\n  ')}`);
});

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
          expect(new Set(pins.map((p) => canonicalizeName(p.requirement.split('==')[0]!))).size).toBe(pins.length);
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
            compared++;
            if (ladderOnly(platform, chosen, pip, target)) ladder.push(`${platform} ${chosen}`);
            expected[name] = ladderOnly(platform, chosen, pip, target) ? chosen! : pip;
          }
          expect(ours).toEqual(expected);
        });
      }
    });
  }
});
