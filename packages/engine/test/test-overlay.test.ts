/**
 * The overlay of a test environment: the dist-info directories of the workspace projects a test
 * run has, as editable installs (code in the tree, metadata in the store). Made once, taken from
 * the store as it is while the metadata stays, made anew when it changes; real Python finds the
 * projects' versions, requirements and entry points through it, a namespace package and a src/
 * layout included.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { itWith } from '@nx-pex/testkit';
import { readPyproject } from '@nx-pex/project';
import type { Closure, LockedPackage } from '@nx-pex/lock';
import type { TargetPlatform } from '@nx-pex/pep';
import { distInfoMetadataKey, editableProjects, type TestOverlay } from '@nx-pex/engine';
import { buildFirstParty } from '../src/first-party';

let dir: string;
let store: string;

async function write(rel: string, text: string): Promise<void> {
  await mkdir(dirname(join(dir, rel)), { recursive: true });
  await writeFile(join(dir, rel), text);
}

const HATCH = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n';

/** app (src layout) on acme-dep and acme-other (two parts of the namespace package acme) and on hooked (a dynamic version). */
async function workspace(): Promise<void> {
  await write('app/pyproject.toml', `[project]\nname = "app"\nversion = "1.2.0"\ndependencies = ["acme-dep>=0.3", "hooked"]\n\n${HATCH}`);
  await write('app/src/app/__init__.py', 'VALUE = 1\n');
  await write('app/tests/test_app.py', 'def test_x() -> None:\n    pass\n');
  await write(
    'dep/pyproject.toml',
    `[project]\nname = "acme-dep"\nversion = "0.3"\n\n[project.entry-points."acme.plugins"]\none = "acme.dep:one"\n\n${HATCH}\n[tool.hatch.build.targets.wheel]\npackages = ["src/acme"]\n`,
  );
  await write('dep/src/acme/dep/__init__.py', 'def one() -> int:\n    return 1\n');
  await write('other/pyproject.toml', `[project]\nname = "acme-other"\nversion = "1.0"\n\n${HATCH}\n[tool.hatch.build.targets.wheel]\npackages = ["src/acme"]\n`);
  await write('other/src/acme/other/__init__.py', 'NAME = "other"\n');
  await write('hooked/pyproject.toml', `[project]\nname = "hooked"\ndynamic = ["version"]\n\n${HATCH}\n[tool.hatch.version]\npath = "hooked.py"\n`);
  await write('hooked/hooked.py', '__version__ = "2.0"\n');
}

const locked = (name: string, path: string): LockedPackage => ({ name, version: '0', source: { kind: 'editable', path }, wheels: [], dependencies: [], optionalDependencies: {}, dependencyGroups: {} });
const closure = (): Closure => ({ firstParty: [locked('hooked', 'hooked'), locked('acme-other', 'other'), locked('acme-dep', 'dep')], thirdParty: [] }) as unknown as Closure;

/** What hooked's backend said, as the store keeps it (so that no backend runs here). */
async function backendAnswered(version: string): Promise<void> {
  const key = await distInfoMetadataKey(await readPyproject(join(dir, 'hooked', 'pyproject.toml')), 'python3', process.env);
  const metadata = Buffer.from(`Metadata-Version: 2.3\nName: hooked\nVersion: ${version}\n`).toString('base64');
  await mkdir(join(store, 'first-party-metadata'), { recursive: true });
  await writeFile(join(store, 'first-party-metadata', `${key}.json`), JSON.stringify({ metadata }));
}

/** The overlay as a fresh process finds or makes it (no memory of earlier calls). */
async function overlay(): Promise<TestOverlay> {
  let mod: typeof import('../src/test-overlay') | undefined;
  jest.isolateModules(() => {
    mod = require('../src/test-overlay');
  });
  const app = await readPyproject(join(dir, 'app', 'pyproject.toml'));
  const projects = await mod!.editableProjects(app, closure(), join(dir, 'pylock.test.toml'));
  const made = await mod!.ensureTestOverlay(projects, { storeRoot: store, projectRoot: join(dir, 'app'), env: { ...process.env, PIP_INDEX_URL: 'http://127.0.0.1:9/simple' } });
  return made!;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nx-pex-overlay-'));
  store = join(dir, 'store');
  await workspace();
  await backendAnswered('2.0');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('takes each workspace project of the run with its import roots, the project under test first', async () => {
  const app = await readPyproject(join(dir, 'app', 'pyproject.toml'));
  const projects = await editableProjects(app, closure(), join(dir, 'pylock.test.toml'));
  expect(projects.map((p) => [p.project.name, p.roots, p.topLevel, p.distribution])).toEqual([
    ['app', [join(dir, 'app', 'src')], ['app'], true],
    ['acme-dep', [join(dir, 'dep', 'src')], ['acme'], true],
    ['acme-other', [join(dir, 'other', 'src')], ['acme'], true],
    ['hooked', [join(dir, 'hooked')], ['hooked'], true],
  ]);
});

it('writes one dist-info per project, editable (PEP 610 direct_url.json, RECORD of its own files), with the metadata a PEX build gives', async () => {
  const o = await overlay();
  expect(o.reused).toBe(false);
  expect((await readdir(o.site)).sort()).toEqual(['acme_dep-0.3.dist-info', 'acme_other-1.0.dist-info', 'app-1.2.0.dist-info', 'hooked-2.0.dist-info']);
  const app = join(o.site, 'app-1.2.0.dist-info');
  expect(await readFile(join(app, 'METADATA'), 'utf8')).toMatch(/^Name: app\nVersion: 1\.2\.0\nRequires-Dist: acme-dep>=0\.3\nRequires-Dist: hooked\n/m);
  expect(JSON.parse(await readFile(join(app, 'direct_url.json'), 'utf8'))).toEqual({ url: `file://${join(dir, 'app')}`, dir_info: { editable: true } });
  expect(await readFile(join(o.site, 'acme_dep-0.3.dist-info', 'entry_points.txt'), 'utf8')).toBe('[acme.plugins]\none = acme.dep:one\n');
  expect(await readFile(join(o.site, 'acme_dep-0.3.dist-info', 'top_level.txt'), 'utf8')).toBe('acme\n');
  // The same METADATA and entry points as the dist-info a PEX build gives each project.
  const projects = await Promise.all(['app', 'dep', 'other', 'hooked'].map((d) => readPyproject(join(dir, d, 'pyproject.toml'))));
  const built = await buildFirstParty(projects, [], { target: {} as TargetPlatform, storeDir: store, projectRoot: join(dir, 'app'), env: process.env });
  const distFiles = built.sources.filter((f) => /\.dist-info\/(METADATA|entry_points\.txt)$/.test(f.path));
  expect(distFiles).toHaveLength(5);
  for (const f of distFiles) expect([f.path, await readFile(join(o.site, f.path), 'utf8')]).toEqual([f.path, await readFile(f.absPath, 'utf8')]);
  const record = (await readFile(join(app, 'RECORD'), 'utf8')).trim().split('\n').map((l) => l.split(',')[0]);
  expect(record).toEqual(['app-1.2.0.dist-info/METADATA', 'app-1.2.0.dist-info/direct_url.json', 'app-1.2.0.dist-info/top_level.txt', 'app-1.2.0.dist-info/RECORD']);
});

it('is taken from the store as it is while the metadata stays (a code edit included), and made anew when it changes', async () => {
  const first = await overlay();
  await write('dep/src/acme/dep/__init__.py', 'def one() -> int:\n    return 11\n');
  await write('hooked/README.md', 'not read for metadata\n');
  const again = await overlay();
  expect([again.reused, again.site]).toEqual([true, first.site]);

  await write('dep/pyproject.toml', (await readFile(join(dir, 'dep', 'pyproject.toml'), 'utf8')).replace('version = "0.3"', 'version = "0.4"'));
  const bumped = await overlay();
  expect(bumped.reused).toBe(false);
  expect(bumped.key).not.toBe(first.key);
  expect(await readdir(bumped.site)).toContain('acme_dep-0.4.dist-info');

  // A dynamic version: the file its backend reads is an input, through the metadata key.
  await write('hooked/hooked.py', '__version__ = "2.1"\n');
  await backendAnswered('2.1');
  const hooked = await overlay();
  expect(hooked.key).not.toBe(bumped.key);
  expect(await readdir(hooked.site)).toContain('hooked-2.1.dist-info');
});

itWith(['python3'], 'gives Python the versions, requirements and entry points, the namespace package and src/ layout importable beside it', async () => {
  const o = await overlay();
  const app = await readPyproject(join(dir, 'app', 'pyproject.toml'));
  const projects = await editableProjects(app, closure(), join(dir, 'pylock.test.toml'));
  const path = [...projects.flatMap((p) => p.roots), o.site].join(delimiter);
  const script = [
    'from importlib.metadata import entry_points, requires, version',
    'import app',
    'import acme.other',
    '(ep,) = entry_points(group="acme.plugins")',
    'print(version("app"), version("acme-dep"), version("acme-other"), version("hooked"), requires("app"), ep.load()(), app.VALUE, acme.other.NAME)',
  ].join('\n');
  const out = execFileSync('python3', ['-c', script], { env: { ...process.env, PYTHONPATH: path }, encoding: 'utf8' });
  expect(out.trim()).toBe("1.2.0 0.3 1.0 2.0 ['acme-dep>=0.3', 'hooked'] 1 1 other");
});
