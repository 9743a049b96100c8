/**
 * Universal resolution against uv: for each set, the versions chosen equal those of
 * `uv pip compile --universal --python-version 3.11` against the same index (the recorded project
 * pages and metadata of test/oracle, served from 127.0.0.1), and each package's marker holds on
 * exactly the environments where uv's does. uv's answers are kept in test/oracle/uv-universal.json;
 * `NX_PEX_RECORD_UV=1 npx jest packages/resolver/test/universal-oracle.test.ts` records them again
 * with .cache/uv-venv/bin/uv.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexClient } from '@nx-pex/index';
import { evaluateMarker, type MarkerEnvironment, type TargetPlatform } from '@nx-pex/pep';
import { resolve } from '@nx-pex/resolver';
import { readOracleData, serveMetadata, type MetadataServer } from './oracle-server';

const here = join(__dirname, 'oracle');
const ANSWERS = join(here, 'uv-universal.json');
const UV = join(__dirname, '..', '..', '..', '.cache', 'uv-venv', 'bin', 'uv');
const SETS: { id: string; reqs: string[] }[] = [
  { id: 'requests', reqs: ['requests'] },
  { id: 'pandas', reqs: ['pandas'] },
  { id: 'fastapi-uvicorn', reqs: ['fastapi', 'uvicorn[standard]'] },
  { id: 'flask', reqs: ['flask', 'gunicorn'] },
  { id: 'httpx', reqs: ['httpx[http2,socks]'] },
  { id: 'sqlalchemy', reqs: ['sqlalchemy[asyncio]', 'alembic'] },
  { id: 'pytest', reqs: ['pytest', 'hypothesis', 'pytest-cov'] },
  { id: 'celery', reqs: ['celery[redis]'] },
  { id: 'markers', reqs: ['requests', "tomli; python_version < '3.11'", "exceptiongroup; python_version < '3.12'", "uvloop; sys_platform != 'win32'"] },
  { id: 'jupyter', reqs: ['jupyterlab'] },
  { id: 'scrapy', reqs: ['scrapy'] },
  { id: 'django', reqs: ['django', 'djangorestframework', 'psycopg[binary]'] },
  { id: 'boto3', reqs: ['boto3'] },
  { id: 'boto3-old-botocore', reqs: ['boto3', 'botocore<1.36'] },
  { id: 'otel', reqs: ['opentelemetry-sdk', 'opentelemetry-instrumentation-fastapi'] },
  { id: 'llm', reqs: ['openai', 'anthropic'] },
  { id: 'data', reqs: ['polars', 'pyarrow', 'duckdb'] },
  { id: 'aiohttp', reqs: ['aiohttp', 'yarl<1.10'] },
  { id: 'sklearn', reqs: ['scikit-learn', 'matplotlib'] },
  { id: 'fastapi-pydantic1', reqs: ['fastapi', 'pydantic<2'] },
  { id: 'pandas-numpy1', reqs: ['pandas', 'numpy<2'] },
  { id: 'dagster', reqs: ['dagster'] },
  { id: 'numpy-fork', reqs: ['pandas', "numpy<2; python_version < '3.12'", "numpy>=2; python_version >= '3.12'"] },
  { id: 'numpy-eager-fork', reqs: ['pandas', "numpy<2; python_version < '3.12'", "numpy>=1.20; python_version >= '3.12'"] },
  { id: 'numpy-platform-fork', reqs: ['pandas', "numpy<2; sys_platform == 'win32'", "numpy>=2; sys_platform != 'win32'"] },
];

interface Answer {
  packages?: { name: string; version: string; marker?: string }[];
  error?: string;
}

const targets = JSON.parse(readFileSync(join(here, 'targets.json'), 'utf8'));
const local: TargetPlatform = { id: 'local', pythonVersion: targets.local.pythonVersion, markerEnvironment: targets.markerEnvironment, supportedTags: targets.local.supportedTags };

// Environments to compare markers on: Python 3.11-3.15 on the platforms wheels are made for.
const ENVS: MarkerEnvironment[] = ['3.11.0', '3.11.7', '3.12.3', '3.13.1', '3.14.0', '3.15.0'].flatMap((v) =>
  [
    { os_name: 'posix', sys_platform: 'linux', platform_system: 'Linux', platform_machine: 'x86_64' },
    { os_name: 'posix', sys_platform: 'linux', platform_system: 'Linux', platform_machine: 'aarch64' },
    { os_name: 'posix', sys_platform: 'darwin', platform_system: 'Darwin', platform_machine: 'arm64' },
    { os_name: 'nt', sys_platform: 'win32', platform_system: 'Windows', platform_machine: 'AMD64' },
    { os_name: 'posix', sys_platform: 'cygwin', platform_system: 'CYGWIN_NT-10.0', platform_machine: 'x86_64' },
  ].flatMap((os) =>
    [
      ['cpython', 'CPython'],
      ['pypy', 'PyPy'],
    ].map(([impl, pyimpl]) => ({
      ...os,
      implementation_name: impl!,
      platform_python_implementation: pyimpl!,
      implementation_version: v,
      platform_release: '',
      platform_version: '',
      python_full_version: v,
      python_version: v.split('.').slice(0, 2).join('.'),
    })),
  ),
);

const truth = (marker: string | undefined) => ENVS.map((e) => (marker === undefined ? true : evaluateMarker(marker, e)));

let server: MetadataServer;
let client: IndexClient;

beforeAll(async () => {
  server = await serveMetadata(readOracleData());
  client = new IndexClient({ indexUrl: server.url, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] }, { retries: 0 });
  if (process.env.NX_PEX_RECORD_UV) await record();
}, 600_000);
afterAll(async () => {
  await client?.close();
  await server?.close();
});

/** uv's answers for every set (needs .cache/uv-venv). */
async function record(): Promise<void> {
  if (!existsSync(UV)) throw new Error(`${UV} is missing: npm test's pretest installs it`);
  const dir = mkdtempSync(join(tmpdir(), 'uv-universal-'));
  const answers: Record<string, Answer> = {};
  for (const s of SETS) {
    const reqs = join(dir, `${s.id}.txt`);
    writeFileSync(reqs, s.reqs.join('\n') + '\n');
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((res) =>
      execFile(
        UV,
        ['pip', 'compile', '--universal', '--python-version', '3.11', '--no-cache', '--no-header', '--no-annotate', '--only-binary', ':all:', '--index-url', server.url, reqs],
        { env: { PATH: process.env.PATH, HOME: dir, UV_NO_CONFIG: '1' } },
        (err, stdout, stderr) => res({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    if (out.code !== 0) {
      answers[s.id] = { error: out.stderr.trim().split('\n').slice(-6).join('\n') };
      continue;
    }
    answers[s.id] = {
      packages: out.stdout
        .split('\n')
        .filter((l) => l.trim() && !l.trim().startsWith('#'))
        .map((l) => {
          const [pin, marker] = l.split(' ; ');
          const [name, version] = pin!.trim().split('==');
          return { name: name!.toLowerCase().replace(/[-_.]+/g, '-'), version: version!, ...(marker ? { marker: marker.trim() } : {}) };
        }),
    };
  }
  writeFileSync(ANSWERS, JSON.stringify(answers, null, 1) + '\n');
}

const answers = (): Record<string, Answer> => JSON.parse(readFileSync(ANSWERS, 'utf8'));

test('uv resolved at least 8 of the sets', () => {
  expect(Object.values(answers()).filter((a) => a.packages).length).toBeGreaterThanOrEqual(8);
});

test.each(SETS.map((s) => [s.id, s.reqs] as const))('%s resolves universally as uv does', async (id, reqs) => {
  const answer = answers()[id];
  const run = resolve(reqs, { client, target: local, formats: { onlyBinary: [':all:'] }, universal: { requiresPython: '>=3.11' } });
  if (!answer?.packages) {
    // The recorded index lacks what other platforms need (colorama for Windows, say): uv fails too.
    await expect(run).rejects.toThrow(/Cannot resolve|No project named|No file of/);
    return;
  }
  const got = await run;
  const pins = (ps: { name: string; version: string }[]) => ps.map((p) => `${p.name} ${p.version}`).sort();
  expect(pins(got.packages)).toEqual(pins(answer.packages));
  for (const p of got.packages) {
    const want = answer.packages.find((x) => x.name === p.name && x.version === p.version)!;
    expect({ name: p.name, version: p.version, marker: truth(p.marker) }).toEqual({ name: p.name, version: p.version, marker: truth(want.marker) });
    expect(p.files!.length).toBeGreaterThan(0);
    expect(p.files!.every((f) => f.filename.includes(`-${p.version}`))).toBe(true);
  }
}, 120_000);

describe('requirements that conflict only under disjoint markers', () => {
  it('on other Python versions: the resolution is forked there, each fork with its own version', async () => {
    const got = await resolve(['pandas', "numpy<2; python_version < '3.12'", "numpy>=2; python_version >= '3.12'"], {
      client,
      target: local,
      formats: { onlyBinary: [':all:'] },
      universal: { requiresPython: '>=3.11' },
    });
    const numpy = got.packages.filter((p) => p.name === 'numpy');
    expect(numpy.map((p) => [p.version.split('.')[0], p.marker])).toEqual([
      ['1', 'python_version < "3.12"'],
      ['2', 'python_version >= "3.12"'],
    ]);
  });

  it('under other markers: forked where the one marker holds and where it does not', async () => {
    const got = await resolve(['pandas', "numpy<2; sys_platform == 'win32'", "numpy>=2; sys_platform != 'win32'"], {
      client,
      target: local,
      formats: { onlyBinary: [':all:'] },
      universal: { requiresPython: '>=3.11' },
    });
    expect(got.packages.filter((p) => p.name === 'numpy').map((p) => [p.version.split('.')[0], p.marker])).toEqual([
      ['1', 'sys_platform == "win32"'],
      ['2', 'sys_platform != "win32"'],
    ]);
  });

  it('a conflict on every environment is explained as a chain, naming the Python range', async () => {
    const message = await resolve(['pydantic-settings==2.9.1', 'pydantic<2.5'], {
      client,
      target: local,
      formats: { onlyBinary: [':all:'] },
      universal: { requiresPython: '>=3.11' },
    }).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(message).toMatch(/Cannot resolve the requirements for every environment \(requires-python >=3\.11\)/);
    expect(message).toMatch(/pydantic-settings 2\.9\.1 requires pydantic>=2\.7\.0/);
    expect(message).toMatch(/you asked for pydantic<2\.5/);
  });
});
