/**
 * The resolver against pip: for each recorded requirement set, the versions (and wheel files)
 * chosen equal those `pip install --dry-run --report --only-binary :all:` chose, for this
 * interpreter and for a foreign platform (cp312 manylinux2014_aarch64), served offline from the
 * index data pip read (see test/oracle/record.py and extract.py).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IndexClient } from '@nx-pex/index';
import type { TargetPlatform } from '@nx-pex/pep';
import { resolve, ResolutionImpossible } from '@nx-pex/resolver';
import { readOracleData, serveMetadata, type MetadataServer } from './oracle-server';

interface Answer {
  install?: { name: string; version: string; file: string }[];
  error?: string[];
}
const here = join(__dirname, 'oracle');
const sets = JSON.parse(readFileSync(join(here, 'sets.json'), 'utf8')) as { id: string; reqs: string[] }[];
const answers = JSON.parse(readFileSync(join(here, 'pip-answers.json'), 'utf8')) as Record<string, Record<string, Answer>>;
const targets = JSON.parse(readFileSync(join(here, 'targets.json'), 'utf8'));

function target(kind: 'local' | 'foreign'): TargetPlatform {
  const t = targets[kind];
  return { id: `${kind}:${t.supportedTags[0]}`, pythonVersion: t.pythonVersion, markerEnvironment: targets.markerEnvironment, supportedTags: t.supportedTags };
}

/**
 * Where pip 23.2.1 is not a faithful oracle. `pip install --python-version 3.12` checks the files'
 * `data-requires-python` against 3.12 but a candidate's metadata `Requires-Python` against the
 * interpreter pip runs on (3.11: `install` does not pass `py_version_info` to its resolver, as
 * `pip download` does), so it refuses Django 6 (`Requires-Python: >=3.12`) for the 3.12 target.
 * nx-pex checks both against the target; everything else must still equal pip's answer.
 */
const PIP_QUIRKS: Record<string, { name: string; version: string; file: string }[]> = {
  'django/foreign': [{ name: 'django', version: '6.1.3', file: 'django-6.1.3-py3-none-any.whl' }],
};

let server: MetadataServer;
let client: IndexClient;

beforeAll(async () => {
  server = await serveMetadata(readOracleData());
  client = new IndexClient({ indexUrl: server.url, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] }, { retries: 0 });
});
afterAll(async () => {
  await client.close();
  await server.close();
});

const cases = sets.flatMap((s) => (['local', 'foreign'] as const).filter((k) => answers[s.id]?.[k]).map((k) => [s.id, k, s.reqs] as const));

test('at least 20 requirement sets are recorded for both targets', () => {
  expect(sets.filter((s) => answers[s.id]?.local && answers[s.id]?.foreign).length).toBeGreaterThanOrEqual(20);
});

test.each(cases)('%s (%s) resolves as pip does', async (id, kind, reqs) => {
  const answer = answers[id]![kind]!;
  const run = resolve(reqs, { client, target: target(kind), formats: { onlyBinary: [':all:'] } });
  if (answer.error) {
    await expect(run).rejects.toThrow(ResolutionImpossible);
    return;
  }
  const got = (await run).packages.map((p) => ({ name: p.name, version: p.version, file: p.file.filename }));
  const quirks = PIP_QUIRKS[`${id}/${kind}`] ?? [];
  const want = answer.install!.map((p) => ({ name: p.name.toLowerCase().replace(/[-_.]+/g, '-'), version: p.version, file: p.file }))
    .map((p) => quirks.find((q) => q.name === p.name) ?? p);
  want.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  expect(got).toEqual(want);
}, 120_000);

describe('bad input', () => {
  const local = () => target('local');

  it('a conflict is explained as a chain: who requires what, and the versions there are', async () => {
    const run = resolve(['pydantic-settings==2.9.1', 'pydantic<2.5'], { client, target: local(), formats: { onlyBinary: [':all:'] } });
    await expect(run).rejects.toThrow(ResolutionImpossible);
    const message = await run.catch((e: Error) => e.message);
    expect(message).toMatch(/pydantic-settings 2\.9\.1 requires pydantic>=2\.7\.0/);
    expect(message).toMatch(/you asked for pydantic<2\.5/);
    expect(message).toMatch(/so no version of pydantic fits/);
  });

  it('a project the index does not list is named with the index, its credentials masked', async () => {
    const secretClient = new IndexClient(
      { indexUrl: server.url.replace('http://', 'http://me:s3cret@'), extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] },
      { retries: 0 },
    );
    try {
      const message = await resolve(['no-such-project'], { client: secretClient, target: local() }).then(
        () => '',
        (e: Error) => e.message,
      );
      expect(message).toMatch(/No project named "no-such-project" on http:\/\/\*\*\*@127\.0\.0\.1:\d+\/simple/);
      expect(message).not.toContain('s3cret');
    } finally {
      await secretClient.close();
    }
  });

  it('metadata comes from the PEP 658 files: no wheel is downloaded', async () => {
    server.requests.length = 0;
    await resolve(['celery[redis]'], { client, target: local(), formats: { onlyBinary: [':all:'] } });
    expect(server.requests.some((p) => p.endsWith('.metadata'))).toBe(true);
    expect(server.requests.filter((p) => p.startsWith('/files/') && !p.endsWith('.metadata'))).toEqual([]);
  });
});
