/**
 * The nx-pex:build executor called in-process, as Nx calls it: paths from the target taken
 * relative to the workspace root, a user error reported as a failed target.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import buildExecutor from '../src/executors/build/executor';
import { makeWheelFrom } from '../../../packages/pex/test/support';
import { copyPinnedPex, uvLockText, writeWorkspace } from './support';

jest.setTimeout(120_000);

let ws: string;
const savedEnv = { ...process.env };

const context = (projectName: string | undefined): ExecutorContext =>
  ({
    root: ws,
    cwd: ws,
    isVerbose: false,
    projectName,
    projectsConfigurations: { version: 2, projects: { app: { root: 'app' } } },
  }) as unknown as ExecutorContext;

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'nx-pex-executor-'));
  // The pex runtime comes from a find-links directory; nothing else is fetched.
  await copyPinnedPex(join(ws, 'wheels'));
  process.env.PIP_FIND_LINKS = join(ws, 'wheels');
  process.env.PIP_NO_INDEX = '1';
  delete process.env.NX_PEX_OFFLINE;
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
  await writeWorkspace(ws, {
    pyproject: '[project]\nname = "app"\nversion = "0.1.0"\n\n[project.scripts]\napp = "app.main:main"\n',
    sources: { 'main.py': 'import pkgutil\n\ndef main():\n    print(pkgutil.get_data("data", "greeting.txt").decode().strip())\n' },
    lock: uvLockText({ dependencies: [], registry: 'https://pypi.org/simple', wheels: [] }),
  });
  await writeWorkspace(join(ws, 'shared'), { project: 'data', pyproject: '', sources: { 'greeting.txt': 'hello from shared\n' }, lock: '' });
});

afterEach(async () => {
  process.env = { ...savedEnv };
  jest.restoreAllMocks();
  await rm(ws, { recursive: true, force: true });
});

it('builds the project into its output path, with sources relative to the workspace root', async () => {
  const result = await buildExecutor(
    { scripts: ['app'], sources: ['shared/data/src'], storeDir: join(ws, 'store'), outputPath: 'out/app' },
    context('app'),
  );
  expect(result).toEqual({ success: true });
  const pex = join(ws, 'out/app/app.pex');
  expect(execFileSync('python3', [pex], { encoding: 'utf8', env: { ...process.env, PEX_ROOT: join(ws, 'pex-root') } }).trim()).toBe(
    'hello from shared',
  );
});

it('reports a user error as a failed target', async () => {
  const errors: string[] = [];
  jest.spyOn(logger, 'error').mockImplementation((m) => void errors.push(String(m)));
  await writeFile(join(ws, 'app/pyproject.toml'), '[project]\nname = "app"\n');
  expect(await buildExecutor({ storeDir: join(ws, 'store') }, context('app'))).toEqual({ success: false });
  expect(errors).toEqual([expect.stringMatching(/^nx-pex: .*app\/pyproject\.toml: app has no \[project\.scripts\]/)]);
  expect(existsSync(join(ws, 'dist'))).toBe(false);
  expect(await buildExecutor({}, context(undefined))).toEqual({ success: false });
});

it('writes layers/ and a Docker context when the target asks for them, and reports a bad base image as a failed target', async () => {
  const opts = { scripts: ['app'], sources: ['shared/data/src'], storeDir: join(ws, 'store'), outputPath: 'out/app' };
  expect(await buildExecutor({ ...opts, layers: true, docker: true, dockerBaseImage: 'python:3.11-bookworm' }, context('app'))).toEqual({ success: true });
  for (const f of ['app.pex', 'layers/deps.pex', 'layers/app.pex', 'docker/Dockerfile', 'docker/.dockerignore', 'docker/deps.pex', 'docker/app.pex']) {
    expect(existsSync(join(ws, 'out/app', f))).toBe(true);
  }
  const env = { ...process.env, PEX_ROOT: join(ws, 'pex-root'), PEX_PATH: join(ws, 'out/app/layers/deps.pex') };
  expect(execFileSync('python3', [join(ws, 'out/app/layers/app.pex')], { encoding: 'utf8', env }).trim()).toBe('hello from shared');

  const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  expect(await buildExecutor({ ...opts, docker: true, dockerBaseImage: 'python:3.11 slim' }, context('app'))).toEqual({ success: false });
  expect(error.mock.calls.flat().join('\n')).toMatch(/app: dockerBaseImage .* is "python:3\.11 slim", which is not a Docker image reference/);
  // Without layers and docker, the outputs of the earlier build are gone.
  expect(await buildExecutor(opts, context('app'))).toEqual({ success: true });
  expect(existsSync(join(ws, 'out/app/layers'))).toBe(false);
  expect(existsSync(join(ws, 'out/app/docker'))).toBe(false);
});

it("refuses layers for a script that is a distribution's .data/scripts file, naming the project and the option", async () => {
  const w = await makeWheelFrom(join(ws, 'wheels'), 'tool-1.0-py3-none-any.whl', [
    { name: 'tool/__init__.py', data: '' },
    { name: 'tool-1.0.data/scripts/tool-run', data: '#!python\nprint("tool-run")\n', mode: 0o100755 },
    { name: 'tool-1.0.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: tool\nVersion: 1.0\n' },
    { name: 'tool-1.0.dist-info/WHEEL', data: 'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
  ]);
  const { size } = await stat(w.path);
  await writeWorkspace(ws, {
    pyproject: '[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["tool"]\n\n[project.scripts]\napp = "app.main:main"\n',
    sources: { 'main.py': 'def main():\n    pass\n' },
    lock: uvLockText({ dependencies: ['tool'], registry: 'https://pypi.org/simple', wheels: [{ name: 'tool', file: { filename: w.filename, sha256: w.sha256, size } }] }),
  });
  const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  const opts = { script: 'tool-run', storeDir: join(ws, 'store'), outputPath: 'out/app' };
  expect(await buildExecutor(opts, context('app'))).toEqual({ success: true });
  expect(await buildExecutor({ ...opts, layers: true }, context('app'))).toEqual({ success: false });
  expect(error.mock.calls.flat().join('\n')).toMatch(
    /app: layers \(--layers\) cannot run script "tool-run": it is a file in a distribution's \.data\/scripts/,
  );
});

it('takes platforms and complete platform files (relative to the workspace root) from the target options', async () => {
  await writeFile(
    join(ws, 'arm.json'),
    JSON.stringify({ marker_environment: { python_version: '3.12', sys_platform: 'linux', platform_machine: 'aarch64' }, compatible_tags: ['cp312-cp312-manylinux_2_28_aarch64', 'py3-none-any'] }),
  );
  const lines: string[] = [];
  jest.spyOn(logger, 'info').mockImplementation((m) => void lines.push(String(m)));
  const result = await buildExecutor(
    { scripts: ['app'], storeDir: join(ws, 'store'), outputPath: 'out/multi', platforms: ['musllinux_1_2_x86_64-cp-311-cp311'], completePlatforms: ['arm.json'] },
    context('app'),
  );
  expect(result).toEqual({ success: true });
  expect(lines).toContainEqual(expect.stringMatching(/^app: platforms musllinux_1_2_x86_64-cp-311-cp311, cp312-cp312-manylinux_2_28_aarch64, lock /));
  // Two Python versions: the shebang names neither.
  expect(execFileSync('head', ['-n', '1', join(ws, 'out/multi/app.pex')], { encoding: 'utf8' }).trim()).toBe('#!/usr/bin/env python3');
});
