/**
 * The nx-pex:sync generator over the example workspace, and the third-party packages of each
 * project as external nodes of the graph.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { updateNxJson, readNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { generatedPylockHeader } from '@nx-pex/lock';
import syncGenerator, { syncProjectLocks } from '../src/generators/sync/generator';
import { createDependencies, createNodes } from '../src';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');

function filesOf(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesOf(p, base) : [relative(base, p)];
  });
}

function exampleTree(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  // The example's committed pylock.toml and pylock.test.toml files are left out: the generator writes them.
  for (const f of filesOf(EXAMPLES).filter((f) => !/pylock(\.test)?\.toml$/.test(f))) tree.write(f, readFileSync(join(EXAMPLES, f)));
  return tree;
}

describe('nx-pex:sync', () => {
  it("writes each project's pylock.toml once, and then nothing while the uv.lock does not change", async () => {
    const tree = exampleTree();
    const first = await syncGenerator(tree);
    // Nx prints the message while `nx sync` writes the files: it says what differs, never to run `nx sync`.
    // Three pylock.toml files and the test locks of the two projects with a test group.
    expect(first).toMatchObject({ outOfSyncMessage: '5 per-project pylock.toml files of nx-pex differ from what the uv.lock gives; commit them once written.' });
    expect((first as { outOfSyncMessage: string }).outOfSyncMessage).not.toMatch(/nx sync/);
    const written = tree.listChanges().map((c) => c.path).filter((p) => /pylock(\.test)?\.toml$/.test(p)).sort();
    // The projects with a test group (greeting, service-b) also get their test lock.
    expect(written).toEqual([
      'libs/greeting/pylock.test.toml',
      'libs/greeting/pylock.toml',
      'services/service-a/pylock.toml',
      'services/service-b/pylock.test.toml',
      'services/service-b/pylock.toml',
    ]);
    // The committed files are what the generator writes.
    for (const f of written) expect([f, tree.read(f, 'utf-8')]).toEqual([f, readFileSync(join(EXAMPLES, f), 'utf8')]);
    const a = tree.read('services/service-a/pylock.toml', 'utf-8')!;
    expect(generatedPylockHeader(a)).toMatchObject({ source: '../../uv.lock' });
    expect(a).toContain('name = "fastapi"');
    expect(a).toContain('directory = { path = "../../libs/greeting", editable = true }');
    const again = syncProjectLocks(tree);
    expect(again.written).toEqual([]);
    expect(again.unchanged.sort()).toEqual(written);
    expect(await syncGenerator(tree)).toEqual({});
  });

  it('rewrites only the locks of projects whose part of the uv.lock changed', () => {
    const tree = exampleTree();
    syncProjectLocks(tree);
    const uv = tree.read('uv.lock', 'utf-8')!;
    tree.write('uv.lock', uv.replace(/(name = "numpy"\nversion = "2.4.6"[\s\S]*?wheels = \[\n)    \{[^\n]*\n/, '$1'));
    expect(syncProjectLocks(tree).written).toEqual(['services/service-b/pylock.test.toml', 'services/service-b/pylock.toml']);
  });

  it('rewrites only the test locks of the projects whose test group holds a bumped test-only package, and no pylock.toml', () => {
    const tree = exampleTree();
    syncProjectLocks(tree);
    const uv = tree.read('uv.lock', 'utf-8')!;
    const bumped = uv.replace(/(name = "iniconfig"\nversion = )"2\.3\.1"/, '$1"2.3.0"');
    expect(bumped).not.toBe(uv);
    tree.write('uv.lock', bumped);
    expect(syncProjectLocks(tree).written.sort()).toEqual(['libs/greeting/pylock.test.toml', 'services/service-b/pylock.test.toml']);
    expect(tree.read('libs/greeting/pylock.test.toml', 'utf-8')).toContain('name = "iniconfig"\nversion = "2.3.0"\nmarker = "\'test\' in dependency_groups"');
  });

  it('removes the test lock of a project that no longer has a test group', () => {
    const tree = exampleTree();
    syncProjectLocks(tree);
    const uv = tree.read('uv.lock', 'utf-8')!;
    // greeting's test group, gone from the lock (as `uv remove --group test pytest` leaves it).
    tree.write('uv.lock', uv.replace(/(name = "greeting"[^[]*)\[package\.dev-dependencies\]\ntest = \[\n[^\]]*\]\n/, '$1'));
    const report = syncProjectLocks(tree);
    expect(report.written).toEqual(['libs/greeting/pylock.test.toml']);
    expect(tree.exists('libs/greeting/pylock.test.toml')).toBe(false);
    expect(tree.exists('services/service-b/pylock.test.toml')).toBe(true);
  });

  it("leaves a user's own pylock.toml alone, and does nothing with lockPerProject: false", () => {
    const tree = exampleTree();
    tree.write('services/service-a/pylock.toml', 'lock-version = "1.0"\n');
    const report = syncProjectLocks(tree);
    expect(report.userOwned).toEqual(['services/service-a/pylock.toml']);
    expect(tree.read('services/service-a/pylock.toml', 'utf-8')).toBe('lock-version = "1.0"\n');
    const off = exampleTree();
    const nxJson = readNxJson(off)!;
    updateNxJson(off, { ...nxJson, plugins: [{ plugin: 'nx-pex', options: { lockPerProject: false } }] });
    expect(syncProjectLocks(off).written).toEqual([]);
  });

  it("keeps to the projects the plugin's registration includes and does not exclude, as Nx does", () => {
    const scoped = (entry: { include?: string[]; exclude?: string[] }) => {
      const tree = exampleTree();
      updateNxJson(tree, { ...readNxJson(tree)!, plugins: [{ plugin: 'nx-pex', ...entry }] });
      return syncProjectLocks(tree).written;
    };
    expect(scoped({ include: ['services/**'] })).toEqual(['services/service-a/pylock.toml', 'services/service-b/pylock.test.toml', 'services/service-b/pylock.toml']);
    expect(scoped({ exclude: ['services/service-b/**'] })).toEqual(['libs/greeting/pylock.test.toml', 'libs/greeting/pylock.toml', 'services/service-a/pylock.toml']);
    expect(scoped({ include: ['services/**'], exclude: ['**/service-a/*'] })).toEqual(['services/service-b/pylock.test.toml', 'services/service-b/pylock.toml']);
  });

  it("finds this repository's own workspace in sync, so the README's `npx nx build service-a` runs on a fresh clone", () => {
    // Its nx.json scopes the plugin to examples/: the test fixtures' uv.locks are not its projects.
    const { FsTree } = require('nx/src/generators/tree') as { FsTree: new (root: string, verbose: boolean) => Tree };
    const report = syncProjectLocks(new FsTree(join(EXAMPLES, '..'), false));
    expect(report.written).toEqual([]);
    expect(report.unchanged.length).toBeGreaterThan(0);
  });

  it('skips a broken pyproject.toml and a project the lock does not cover, writing the others', () => {
    const tree = exampleTree();
    tree.write('services/service-a/pyproject.toml', '[project\n');
    tree.write('services/new-svc/pyproject.toml', '[project]\nname = "new-svc"\n');
    const report = syncProjectLocks(tree);
    expect(report.written).toEqual(['libs/greeting/pylock.test.toml', 'libs/greeting/pylock.toml', 'services/service-b/pylock.test.toml', 'services/service-b/pylock.toml']);
    expect(report.problems.join('\n')).toMatch(/project 'new-svc' is not in the lock.*run `uv lock`/);
  });
});

describe('third-party packages in the graph', () => {
  let ws: string;
  beforeEach(() => {
    ws = mkdtempSync(join(tmpdir(), 'nx-pex-external-'));
    cpSync(EXAMPLES, ws, { recursive: true, filter: (src) => !/pylock(\.test)?\.toml$/.test(src) });
  });
  afterEach(() => rmSync(ws, { recursive: true, force: true }));

  it('makes a pypi:<name> node per locked package and an edge from each project whose closure holds it', async () => {
    const tree = exampleTree();
    syncProjectLocks(tree);
    writeFileSync(join(ws, 'services/service-b/pylock.toml'), tree.read('services/service-b/pylock.toml')!);
    const files = ['libs/greeting/pyproject.toml', 'services/service-a/pyproject.toml', 'services/service-b/pyproject.toml'];
    const results = await createNodes[1](files, {}, { nxJsonConfiguration: {}, workspaceRoot: ws });
    const external = Object.assign({}, ...results.map(([, r]) => r.externalNodes ?? {}));
    expect(external['pypi:fastapi']).toEqual({
      type: 'pypi',
      name: 'pypi:fastapi',
      data: { version: '0.165.0', packageName: 'fastapi', hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    // numpy is locked twice (one version per Python range): one node.
    expect(external['pypi:numpy'].data.version).toBe('2.4.6 | 2.5.5');
    expect(Object.keys(external)).not.toContain('pypi:greeting');
    const projects = Object.fromEntries(
      results.flatMap(([, r]) => Object.values(r.projects ?? {})).map((p) => [p.name!, { root: p.root, name: p.name }]),
    );
    const fileMap = Object.fromEntries(
      Object.values(projects).map((p) => [p.name, filesOf(join(ws, p.root)).map((f) => ({ file: `${p.root}/${f}`, hash: '1' }))]),
    );
    const edges = await createDependencies({}, {
      workspaceRoot: ws,
      projects,
      externalNodes: external,
      nxJsonConfiguration: {},
      fileMap: { projectFileMap: fileMap, nonProjectFiles: [] },
      filesToProcess: { projectFileMap: fileMap, nonProjectFiles: [] },
    } as never);
    const toPypi = edges.filter((e) => e.target.startsWith('pypi:'));
    expect(toPypi.filter((e) => e.source === 'service-b')).toEqual([
      { source: 'service-b', target: 'pypi:numpy', sourceFile: 'services/service-b/pylock.toml', type: 'static' },
    ]);
    expect(toPypi.filter((e) => e.source === 'service-a').map((e) => e.target)).toContain('pypi:uvicorn');
    expect(toPypi.filter((e) => e.source === 'service-a').every((e) => e.type === 'implicit')).toBe(true);
    expect(toPypi.filter((e) => e.source === 'greeting')).toEqual([]);
  });
});

describe('locks that go stale or shadow the uv.lock', () => {
  const STANDALONE = 'lock-version = "1.0"\ncreated-by = "nx-pex"\n\n[[packages]]\nname = "fastapi"\nversion = "0.1.0"\n';

  it('replaces a pylock.toml of `nx-pex lock` that the uv.lock now covers, naming both files; keeps it when lock-file names it', async () => {
    const tree = exampleTree();
    tree.write('services/service-a/pylock.toml', STANDALONE);
    const result = await syncGenerator(tree);
    expect(result).toMatchObject({ outOfSyncDetails: expect.arrayContaining([expect.stringMatching(/^services\/service-a\/pylock\.toml was written by `nx-pex lock` .*but uv\.lock now covers service-a/)]) });
    expect(generatedPylockHeader(tree.read('services/service-a/pylock.toml', 'utf-8')!)).toBeDefined();
    const kept = exampleTree();
    kept.write('services/service-a/pylock.toml', STANDALONE);
    kept.write('services/service-a/pyproject.toml', `${kept.read('services/service-a/pyproject.toml', 'utf-8')}\n[tool.nx-pex]\nlock-file = "pylock.toml"\n`);
    expect(syncProjectLocks(kept)).toMatchObject({ userOwned: ['services/service-a/pylock.toml'], shadowed: [] });
  });

  it("makes the uv.lock an input of a project's build while its pylock.toml is stale, missing or shadowed", async () => {
    const ws = mkdtempSync(join(tmpdir(), 'nx-pex-stale-'));
    try {
      cpSync(EXAMPLES, ws, { recursive: true, filter: (src) => !src.endsWith('pylock.toml') });
      const tree = exampleTree();
      syncProjectLocks(tree);
      const pylock = tree.read('services/service-b/pylock.toml', 'utf-8')!;
      const inputs = async () => {
        const results = await createNodes[1](['services/service-b/pyproject.toml'], {}, { nxJsonConfiguration: {}, workspaceRoot: ws });
        return results[0][1].projects!['services/service-b'].targets!.build.inputs;
      };
      expect(await inputs()).toContain('{workspaceRoot}/uv.lock'); // missing
      writeFileSync(join(ws, 'services/service-b/pylock.toml'), pylock);
      expect(await inputs()).not.toContain('{workspaceRoot}/uv.lock');
      const uv = readFileSync(join(ws, 'uv.lock'), 'utf8');
      writeFileSync(join(ws, 'uv.lock'), uv.replace(/(name = "numpy"\nversion = "2.4.6"[\s\S]*?wheels = \[\n)    \{[^\n]*\n/, '$1'));
      expect(await inputs()).toContain('{workspaceRoot}/uv.lock'); // stale
      writeFileSync(join(ws, 'uv.lock'), uv);
      expect(await inputs()).not.toContain('{workspaceRoot}/uv.lock');
      // Edited by hand: its hash is no longer the one remembered for this uv.lock.
      writeFileSync(join(ws, 'services/service-b/pylock.toml'), pylock.replace('version = "2.4.6"', 'version = "2.4.7"'));
      expect(await inputs()).toContain('{workspaceRoot}/uv.lock');
      expect(existsSync(join(ws, '.nx/workspace-data/nx-pex-locks.json'))).toBe(true);
      writeFileSync(join(ws, 'services/service-b/pylock.toml'), STANDALONE);
      expect(await inputs()).toContain('{workspaceRoot}/uv.lock'); // shadowed
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });
});
