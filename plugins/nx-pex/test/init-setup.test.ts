/** `nx add nx-pex` (the init generator) sets a workspace up: the uv workspace root, the per-project locks, and says what it did. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describeWith, uvBinary } from '@nx-pex/testkit';
import { exec } from './support';
import { logger, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parsePyproject } from '@nx-pex/project';
import initGenerator from '../src/generators/init/generator';
import { unsupportedNx } from '../src/plugin/nx-version';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');

afterEach(() => jest.restoreAllMocks());

function said(spy: jest.SpyInstance): string {
  return spy.mock.calls.map((c) => c.join(' ')).join('\n');
}

describe('init sets the workspace up', () => {
  it('in an empty workspace: creates the uv workspace root with services/* and libs/*, and says so', async () => {
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    const tree = createTreeWithEmptyWorkspace();
    await initGenerator(tree, { skipFormat: true });
    expect(parsePyproject(tree.read('pyproject.toml', 'utf-8')!, 'pyproject.toml').uvWorkspace?.members).toEqual(['services/*', 'libs/*']);
    expect(said(info)).toMatch(/nx-pex: created pyproject\.toml, a uv workspace root with members services\/\*, libs\/\*/);
    expect(said(info)).toMatch(/nx-pex: registered the nx-pex plugin in nx\.json/);
    // Once set up, a second run changes nothing and says so.
    info.mockClear();
    await initGenerator(tree, { skipFormat: true });
    expect(said(info)).toBe('nx-pex: the workspace is already set up');
  });

  it('takes the directories that hold existing projects as members; --no-uv-workspace leaves it out', async () => {
    jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    const tree = createTreeWithEmptyWorkspace();
    tree.write('apps/api/pyproject.toml', '[project]\nname = "api"\nversion = "0.1"\n');
    tree.write('tool/pyproject.toml', '[project]\nname = "tool"\nversion = "0.1"\n');
    await initGenerator(tree, { skipFormat: true });
    expect(parsePyproject(tree.read('pyproject.toml', 'utf-8')!, 'pyproject.toml').uvWorkspace?.members).toEqual(['apps/*', 'tool']);
    const other = createTreeWithEmptyWorkspace();
    await initGenerator(other, { skipFormat: true, uvWorkspace: false });
    expect(other.exists('pyproject.toml')).toBe(false);
  });

  it('writes the per-project locks from an existing uv.lock (so the first build is not out of sync)', async () => {
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    const tree: Tree = createTreeWithEmptyWorkspace();
    for (const f of ['pyproject.toml', 'uv.lock', 'services/service-a/pyproject.toml', 'libs/greeting/pyproject.toml']) tree.write(f, readFileSync(join(EXAMPLES, f)));
    await initGenerator(tree, { skipFormat: true });
    expect(tree.read('services/service-a/pylock.toml', 'utf-8')).toMatch(/^# .*uv\.lock/);
    expect(said(info)).toMatch(/nx-pex: wrote .*services\/service-a\/pylock\.toml.* from the uv\.lock/);
    // The workspace's uv root was there: not touched.
    expect(tree.read('pyproject.toml', 'utf-8')).toBe(readFileSync(join(EXAMPLES, 'pyproject.toml'), 'utf8'));
  });

  it('names an unsupported Nx in one message', () => {
    expect(unsupportedNx('22.7.12')).toBeUndefined();
    expect(unsupportedNx('23.2.1')).toBeUndefined();
    expect(unsupportedNx('24.0.6')).toBeUndefined();
    expect(unsupportedNx('21.6.0')).toMatch(/^nx-pex supports Nx 22, 23, 24; this workspace runs Nx 21\.6\.0\. Upgrade Nx/);
    expect(unsupportedNx('25.0.0')).toMatch(/runs Nx 25\.0\.0\. Use an nx-pex release made for Nx 25, or pin Nx to 24/);
  });

  it('declares the Nx majors it supports as its peer range, on nx itself (no second @nx/devkit on an Nx 22 workspace)', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.peerDependencies).toEqual({ nx: '>=22.0.0 <25.0.0' });
    // The bundled plugin takes Nx's API from nx, never from @nx/devkit.
    for (const entry of ['index.js', 'generators/init/generator.js', 'executors/build/executor.js']) {
      expect(readFileSync(join(__dirname, '..', 'lib', entry), 'utf8')).not.toMatch(/require\("@nx\/devkit/);
    }
  });
});

describeWith(['uv'], 'python-service with uv', () => {
  it('runs `uv lock` and then the sync: the new project has its pylock.toml at once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'nx-pex-gen-uv-'));
    try {
      await writeFile(join(root, 'nx.json'), JSON.stringify({ plugins: ['nx-pex'] }));
      await writeFile(join(root, 'pyproject.toml'), '[tool.uv.workspace]\nmembers = ["services/*", "libs/*"]\n');
      // The bundled generator on the disk, as `nx g nx-pex:python-service billing` runs it (uv on PATH).
      const script = [
        "const { FsTree, flushChanges } = require('nx/src/generators/tree');",
        `const gen = require(${JSON.stringify(join(__dirname, '..', 'lib', 'generators', 'python-service', 'generator.js'))}).default;`,
        '(async () => {',
        `  const tree = new FsTree(${JSON.stringify(root)}, false);`,
        "  const done = await gen(tree, { name: 'billing', skipFormat: true });",
        `  flushChanges(${JSON.stringify(root)}, tree.listChanges());`,
        '  done();',
        '})().catch((e) => { console.error(e.message); process.exit(1); });',
      ].join('\n');
      const { stdout, stderr } = await exec(process.execPath, ['-e', script], {
        cwd: join(__dirname, '..', '..', '..'),
        env: { ...process.env, PATH: `${dirname(uvBinary()!)}:${process.env.PATH}`, UV_OFFLINE: '1', NX_DAEMON: 'false' },
      });
      const out = stdout + stderr;
      expect(out).not.toMatch(/uv is not on PATH|failed/);
      expect(readFileSync(join(root, 'uv.lock'), 'utf8')).toMatch(/name = "billing"/);
      expect(readFileSync(join(root, 'services', 'billing', 'pylock.toml'), 'utf8')).toMatch(/^# .*uv\.lock/);
      expect(out).toMatch(/nx-pex: wrote (\S+, )*services\/billing\/pylock\.toml( \S+)* from the uv\.lock/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
