/**
 * Nothing outside the output directory is ever written or removed: hostile console-script names
 * from a pyproject.toml (through the nx-pex:build executor and the CLI), `-o` naming a directory
 * that is not a PEX, and output paths that are not UTF-8.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import buildExecutor from '../src/executors/build/executor';
import { CLI, cliEnv, copyPinnedPex, requireBuiltCli, runCli, uvLockText, writeWorkspace } from './support';

jest.setTimeout(120_000);

let scratch: string;
let wheels: string;
const savedEnv = { ...process.env };

const lock = uvLockText({ dependencies: [], registry: 'https://pypi.org/simple', wheels: [] });
const findLinks = () => ({ PIP_FIND_LINKS: wheels, PIP_NO_INDEX: '1' });

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-outsafe-'));
  wheels = join(scratch, 'wheels');
  await copyPinnedPex(wheels);
});

afterAll(async () => {
  process.env = { ...savedEnv };
  await rm(scratch, { recursive: true, force: true });
});

async function hostileWorkspace(name: string, script: string, layout?: string): Promise<string> {
  const ws = join(scratch, name, 'repo');
  const tool = layout ? `\n[tool.nx-pex]\nlayout = "${layout}"\n` : '';
  await writeWorkspace(ws, {
    pyproject: `[project]\nname = "app"\nversion = "0.1.0"\n\n[project.scripts]\n${JSON.stringify(script)} = "app.main:main"\n${tool}`,
    sources: { 'main.py': 'def main():\n    print("hi")\n' },
    lock,
  });
  return ws;
}

/** A directory outside the output directory with files a hostile name would reach. */
async function victim(name: string): Promise<string> {
  const dir = join(scratch, name, 'victim.pex');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'precious.txt'), 'keep me\n');
  return dir;
}

const allFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : []);

describe('a console-script name that is a path', () => {
  const context = (ws: string): ExecutorContext =>
    ({ root: ws, cwd: ws, isVerbose: false, projectName: 'app', projectsConfigurations: { version: 2, projects: { app: { root: 'app' } } } }) as unknown as ExecutorContext;

  it.each([
    ['escape', '../../../escaped', undefined],
    ['packed', '../../../victim', 'packed'],
    ['absolute', '/tmp/abs-escape', undefined],
    ['nul', 'a\u0000b', undefined],
  ])('is refused by nx build (%s), naming pyproject.toml and [project.scripts]', async (label, script, layout) => {
    const ws = await hostileWorkspace(`exec-${label}`, script, layout);
    const kept = await victim(`exec-${label}`);
    process.env = { ...savedEnv, ...findLinks() };
    const errors: string[] = [];
    jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    jest.spyOn(logger, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
    const before = allFiles(join(scratch, `exec-${label}`));
    const result = await buildExecutor({ storeDir: join(scratch, 'store') }, context(ws));
    jest.restoreAllMocks();
    expect(result).toEqual({ success: false });
    expect(errors.join('\n')).toMatch(/app\/pyproject\.toml.*\[project\.scripts\]/);
    expect(errors.join('\n')).toMatch(/cannot name a PEX file/);
    expect(allFiles(join(scratch, `exec-${label}`))).toEqual(before);
    expect(await readFile(join(kept, 'precious.txt'), 'utf8')).toBe('keep me\n');
    expect(existsSync('/tmp/abs-escape.pex')).toBe(false);
  });

  it('is refused by the CLI, and nothing is written outside the output directory', async () => {
    const ws = await hostileWorkspace('cli', '../../../victim', 'packed');
    const kept = await victim('cli');
    const before = allFiles(join(scratch, 'cli'));
    const res = await runCli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist', 'app'), '--store', join(scratch, 'store')], {
      env: findLinks(),
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/pyproject\.toml \[project\.scripts\]: "\.\.\/\.\.\/\.\.\/victim" cannot name a PEX file/);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(allFiles(join(scratch, 'cli'))).toEqual(before);
    expect(await readFile(join(kept, 'precious.txt'), 'utf8')).toBe('keep me\n');
  });

  it('refuses -c naming a path', async () => {
    const ws = await hostileWorkspace('cli-c', 'app');
    const res = await runCli(['build', '--project', join(ws, 'app'), '-c', '../up', '--output-dir', join(ws, 'dist'), '--store', join(scratch, 'store')], {
      env: findLinks(),
    });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/"\.\.\/up" cannot name a PEX file|not a script name/);
    expect(existsSync(join(ws, 'up.pex'))).toBe(false);
  });
});

describe('-o naming a directory that is not a PEX', () => {
  it.each(['packed', 'loose', 'zipapp'])('is an error with --layout %s, and the project directory is untouched', async (layout) => {
    const ws = await hostileWorkspace(`o-${layout}`, 'app');
    const project = join(ws, 'app');
    const before = allFiles(project);
    const res = await runCli(['build', '--project', project, '-o', project, '--layout', layout, '--store', join(scratch, 'store')], { env: findLinks() });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/is a directory that is not a PEX \(it has no PEX-INFO\)/);
    expect(allFiles(project)).toEqual(before);
    expect(await readFile(join(project, 'pyproject.toml'), 'utf8')).toMatch(/name = "app"/);
  });

  it('is an error for a file that is not a PEX, and an earlier PEX is replaced', async () => {
    const ws = await hostileWorkspace('o-file', 'app');
    const project = join(ws, 'app');
    const notes = join(ws, 'notes.txt');
    await writeFile(notes, 'mine\n');
    const res = await runCli(['build', '--project', project, '-o', notes, '--store', join(scratch, 'store')], { env: findLinks() });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/is a file that is not a PEX/);
    expect(await readFile(notes, 'utf8')).toBe('mine\n');
    // An earlier build's output, zipapp then packed then zipapp again, is replaced each time.
    const out = join(ws, 'out', 'app.pex');
    for (const layout of ['zipapp', 'packed', 'loose', 'zipapp']) {
      const ok = await runCli(['build', '--project', project, '-o', out, '--layout', layout, '--store', join(scratch, 'store')], { env: findLinks() });
      expect(ok.stderr).toContain('app: wrote');
      expect(ok.code).toBe(0);
    }
  });
});

it('refuses an output path that is not UTF-8, writing nothing', async () => {
  const ws = await hostileWorkspace('utf8', 'app');
  const outDir = join(ws, 'out');
  await mkdir(outDir);
  // Node decodes arguments as UTF-8: the byte 0xff reaches the CLI as U+FFFD.
  const arg = Buffer.concat([Buffer.from(`${outDir}/bad-`), Buffer.from([0xff]), Buffer.from('.pex')]);
  const res = spawnSync(process.execPath, [CLI, 'build', '--project', join(ws, 'app'), '-o', arg as unknown as string, '--store', join(scratch, 'store')], {
    env: cliEnv(findLinks()),
    encoding: 'utf8',
  });
  expect(res.status).toBe(1);
  expect(res.stderr).toMatch(/is not valid UTF-8/);
  expect(readdirSync(outDir)).toEqual([]);
});
