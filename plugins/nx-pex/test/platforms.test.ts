/**
 * Building for named platforms (`--platform`, `--complete-platform`): one PEX holding the wheels
 * of each, which runs under each of the CPython versions it was built for.
 */
import { readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { itWith, pyenvPython } from '@nx-pex/testkit';
import { copyPinnedPex, exec, projectToml, requireBuiltCli, runCli, writeWorkspace } from './support';

const PLATFORM_WHEELS = join(__dirname, '..', '..', '..', '.cache', 'platform-wheels');
const COMPLETE_CP312 = join(__dirname, '..', '..', '..', 'packages', 'pep', 'test', 'fixtures', 'complete-platform-cp312-linux.json');

jest.setTimeout(180_000);

let scratch: string;
let server: IndexServer;
const msgpack = (suffix: string) => readdirSync(PLATFORM_WHEELS).find((f) => f.startsWith('msgpack-1.1.0-') && f.includes(suffix));

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-platforms-'));
  const wheels = join(scratch, 'wheels');
  await mkdir(wheels);
  for (const f of readdirSync(PLATFORM_WHEELS)) await copyFile(join(PLATFORM_WHEELS, f), join(wheels, f));
  await copyPinnedPex(wheels);
  server = await startIndexServer({ dir: wheels });
  await mkdir(join(scratch, 'src', 'app'), { recursive: true });
  await writeFile(join(scratch, 'src', 'app', '__init__.py'), '');
  await writeFile(
    join(scratch, 'src', 'app', 'main.py'),
    'import json, os, sys\nimport msgpack, msgpack._cmsgpack\n\ndef main():\n' +
      '    print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "native": os.path.basename(os.path.dirname(os.path.dirname(msgpack._cmsgpack.__file__))), "roundtrip": msgpack.unpackb(msgpack.packb([1, "a"]))}))\n',
  );
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const build = (name: string, args: string[]) =>
  runCli(['build', 'msgpack==1.1.0', '-D', join(scratch, 'src'), '-e', 'app.main:main', '-o', join(scratch, name), '--no-pypi', '-i', server.url, '--store', join(scratch, 'store'), ...args]);

async function pexInfo(pex: string): Promise<{ distributions: Record<string, string>; requirements: string[] }> {
  const { stdout } = await exec('unzip', ['-p', pex, 'PEX-INFO']);
  return JSON.parse(stdout);
}

const MULTI = ['--platform', 'manylinux2014_x86_64-cp-311-cp311', '--platform', 'manylinux2014_x86_64-cp-312-cp312', '--platform', 'macosx_11_0_arm64-cp-312-cp312'];

it('a PEX built for CPython 3.11 and 3.12 (and macOS) holds each platform\'s wheel', async () => {
  const res = await build('multi.pex', MULTI);
  expect(res.stderr).toMatch(/platforms manylinux2014_x86_64-cp-311-cp311, manylinux2014_x86_64-cp-312-cp312, macosx_11_0_arm64-cp-312-cp312/);
  expect(res.code).toBe(0);
  const pex = join(scratch, 'multi.pex');
  const info = await pexInfo(pex);
  expect(Object.keys(info.distributions).sort()).toEqual([msgpack('cp311-cp311-manylinux'), msgpack('cp312-cp312-macosx'), msgpack('cp312-cp312-manylinux')].sort());
  expect(info.requirements).toEqual(['msgpack==1.1.0']);
  // Two Python versions: no version in the shebang, as pex does.
  const { stdout: head } = await exec('head', ['-c', '40', pex]);
  expect(head.split('\n')[0]).toBe('#!/usr/bin/env python3');
});

itWith(['python3.11', 'python3.12', 'linux-x64'], 'the multi-platform PEX runs under CPython 3.11 and under 3.12, each with its own wheel', async () => {
  const res = await build('multi-run.pex', MULTI);
  expect(res.code).toBe(0);
  const pex = join(scratch, 'multi-run.pex');
  const ran: string[] = [];
  for (const [python, tag] of [[pyenvPython('3.11')!, 'cp311'], [pyenvPython('3.12')!, 'cp312']] as const) {
    const { stdout } = await exec(python, [pex], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
    const out = JSON.parse(stdout) as { python: string; native: string; roundtrip: unknown };
    expect(out.python).toBe(`${tag[2]}.${tag.slice(3)}`);
    // The runtime installed the wheel of that Python.
    expect(out.native).toContain(msgpack(`${tag}-${tag}-manylinux`));
    expect(out.roundtrip).toEqual([1, 'a']);
    ran.push(tag);
  }
  expect(ran).toEqual(['cp311', 'cp312']);
});

it('a complete platform takes the wheel its tags rank best, and its marker environment', async () => {
  const res = await build('complete.pex', ['--complete-platform', COMPLETE_CP312]);
  expect(res.code).toBe(0);
  expect(Object.keys((await pexInfo(join(scratch, 'complete.pex'))).distributions)).toEqual([msgpack('cp312-cp312-manylinux')]);
  const { stdout: head } = await exec('head', ['-c', '40', join(scratch, 'complete.pex')]);
  expect(head.split('\n')[0]).toBe('#!/usr/bin/env python3.12');
});

itWith(['python3.11', 'linux-x64'], '--python beside --platform targets both, as in pex', async () => {
  const py311 = pyenvPython('3.11')!;
  const res = await build('both.pex', ['--python', py311, '--platform', 'macosx_11_0_arm64-cp-312-cp312']);
  expect(res.code).toBe(0);
  expect(res.stderr).toMatch(/platforms cp311-cp311-manylinux_2_\d+_x86_64 \(.*python3\.11\), macosx_11_0_arm64-cp-312-cp312/);
  expect(Object.keys((await pexInfo(join(scratch, 'both.pex'))).distributions).sort()).toEqual([msgpack('cp311-cp311-manylinux'), msgpack('cp312-cp312-macosx')].sort());
});

it('a platform without a wheel names the package, the platform, the wheels there are and a platform they fit', async () => {
  const res = await build('none.pex', ['--platform', 'win_amd64-cp-312-cp312']);
  expect(res.code).not.toBe(0);
  expect(res.stderr).toMatch(/No file of msgpack on \S+ fits target win_amd64-cp-312-cp312 \(Python 3\.12\); msgpack==1\.1\.0 was asked for/);
  expect(res.stderr).toContain(msgpack('cp312-cp312-musllinux')!);
  expect(res.stderr).toMatch(/a platform these wheels fit \(macosx_11_0_arm64-cp-312-cp312, manylinux_2_17_x86_64-cp-312-cp312/);
  expect(res.stderr).not.toMatch(/\n\s+at /);
});

it('refuses a platform string or complete platform that does not parse, in one line', async () => {
  const bad = await build('bad.pex', ['--platform', 'manylinux2014_x86_64-cp311']);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/Not a valid platform: "manylinux2014_x86_64-cp311": expected 4 fields/);
  const missing = await build('bad.pex', ['--complete-platform', join(scratch, 'nope.json')]);
  expect(missing.stderr).toMatch(/Cannot read the complete platform file .*nope\.json \(ENOENT\)/);
  await writeFile(join(scratch, 'broken.json'), '{"marker_environment": {}}');
  const broken = await build('bad.pex', ['--complete-platform', join(scratch, 'broken.json')]);
  expect(broken.stderr).toMatch(/broken\.json has no 'compatible_tags' key/);
});

it('a workspace project is built for the platforms of [tool.nx-pex], each taking its wheel from the uv.lock', async () => {
  const files = readdirSync(PLATFORM_WHEELS).filter((f) => f.startsWith('msgpack-1.1.0-'));
  const wheels = await Promise.all(
    files.map(async (f) => {
      const bytes = await readFile(join(PLATFORM_WHEELS, f));
      return `{ url = "${server.url.replace(/\/simple$/, '')}/files/${f}", hash = "sha256:${createHash('sha256').update(bytes).digest('hex')}", size = ${bytes.length} }`;
    }),
  );
  const lock = [
    'version = 1',
    'revision = 3',
    'requires-python = ">=3.11"',
    '',
    '[[package]]',
    'name = "app"',
    'version = "0.1.0"',
    'source = { editable = "app" }',
    'dependencies = [{ name = "msgpack" }]',
    '',
    '[[package]]',
    'name = "msgpack"',
    'version = "1.1.0"',
    `source = { registry = "${server.url}" }`,
    `wheels = [${wheels.join(', ')}]`,
    '',
  ].join('\n');
  const ws = await writeWorkspace(join(scratch, 'ws'), {
    pyproject: `${projectToml('app', ['msgpack'])}\n[tool.nx-pex]\nplatforms = ["macosx_11_0_arm64-cp-312-cp312", "musllinux_1_2_x86_64-cp-312-cp312"]\n`,
    sources: { 'main.py': 'def main():\n    pass\n' },
    lock,
  });
  const out = join(scratch, 'ws-out');
  const res = await runCli(['build', '--project', join(ws, 'app'), '--output-dir', out, '--store', join(scratch, 'store')], { env: { PIP_INDEX_URL: server.url } });
  expect(res.stderr).toMatch(/platforms macosx_11_0_arm64-cp-312-cp312, musllinux_1_2_x86_64-cp-312-cp312, lock/);
  expect(res.code).toBe(0);
  expect(Object.keys((await pexInfo(join(out, 'app.pex'))).distributions).sort()).toEqual([msgpack('cp312-cp312-macosx'), msgpack('cp312-cp312-musllinux')].sort());
  // The command line wins over [tool.nx-pex].
  const cli = await runCli(['build', '--project', join(ws, 'app'), '--output-dir', out, '--store', join(scratch, 'store'), '--platform', 'manylinux2014_x86_64-cp-311-cp311'], { env: { PIP_INDEX_URL: server.url } });
  expect(cli.code).toBe(0);
  expect(Object.keys((await pexInfo(join(out, 'app.pex'))).distributions)).toEqual([msgpack('cp311-cp311-manylinux')]);
});
