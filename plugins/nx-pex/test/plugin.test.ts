/**
 * The Nx plugin surface called directly, as Nx calls it: createNodes over pyproject.toml files,
 * createDependencies over the resulting projects, and the init generator.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNxJson } from '@nx/devkit';
import { createTree, createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { createDependencies, createNodes, createNodesV2 } from '../src';
import initGenerator from '../src/generators/init/generator';
import { selfInputs } from '../src/plugin/self-inputs';

let ws: string;

async function write(rel: string, text: string): Promise<void> {
  await mkdir(join(ws, rel, '..'), { recursive: true });
  await writeFile(join(ws, rel), text);
}

const context = () => ({ nxJsonConfiguration: {}, workspaceRoot: ws });

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'nx-pex-plugin-'));
  await write('py/pyproject.toml', '[tool.uv.workspace]\nmembers = ["svc/*", "lib/*"]\n');
  await write('py/uv.lock', 'version = 1\n');
  await write(
    'py/svc/api/pyproject.toml',
    '[project]\nname = "api"\ndependencies = ["fastapi", "core"]\n[project.scripts]\napi = "api.main:main"\napi-admin = "api.admin:main"\n[tool.uv.sources]\ncore = { workspace = true }\n',
  );
  await write('py/svc/api/src/api/__init__.py', '');
  await write('py/svc/api/src/api/main.py', 'import core\nfrom util.text import shout\n');
  await write('py/lib/core/pyproject.toml', '[project]\nname = "core"\n');
  await write('py/lib/core/src/core/__init__.py', '');
  await write('py/lib/util/pyproject.toml', '[project]\nname = "util"\n');
  await write('py/lib/util/src/util/__init__.py', '');
  await write('py/lib/util/src/util/text.py', 'def shout(s): return s.upper()\n');
});

afterEach(async () => {
  await rm(ws, { recursive: true, force: true });
});

const files = ['py/pyproject.toml', 'py/svc/api/pyproject.toml', 'py/lib/core/pyproject.toml', 'py/lib/util/pyproject.toml'];

describe('createNodes', () => {
  it('is exported with the v2 signature under both names', () => {
    expect(createNodes[0]).toBe('**/pyproject.toml');
    expect(createNodesV2).toBe(createNodes);
  });

  it('makes a project per [project] table and a cacheable build target per project with scripts', async () => {
    const results = await createNodes[1](files, { buildTargetName: 'pex' }, context());
    const byFile = Object.fromEntries(results);
    expect(byFile['py/pyproject.toml']).toEqual({});
    const api = byFile['py/svc/api/pyproject.toml'].projects!['py/svc/api'];
    expect(api.name).toBe('api');
    expect(api.projectType).toBe('application');
    // What goes into the PEX: no README, notes or tests.
    expect(api.namedInputs!['python-sources']).toEqual([
      '{projectRoot}/pyproject.toml',
      '{projectRoot}/src/api/**/*',
      '!{projectRoot}/**/__pycache__/**/*',
    ]);
    const target = api.targets!.pex;
    expect(target.executor).toBe('nx-pex:build');
    expect(target.cache).toBe(true);
    expect(target.options).toEqual({ scripts: ['api', 'api-admin'], lockPerProject: true });
    expect(target.outputs).toEqual(['{workspaceRoot}/dist/{projectRoot}']);
    expect(target.syncGenerators).toEqual(['nx-pex:sync']);
    expect(target.inputs).toEqual([
      'python-sources',
      '^python-sources',
      '{projectRoot}/pylock.toml',
      { externalDependencies: ['nx-pex'] },
      { runtime: expect.stringMatching(/^python3 -c ".*sysconfig\.get_platform\(\).*libc_ver/) },
    ]);
    const core = byFile['py/lib/core/pyproject.toml'].projects!['py/lib/core'];
    expect(core.projectType).toBe('library');
    expect(core.targets).toEqual({});
  });

  it('gives a project with only a [tool.nx-pex] entry-point a build target that leaves the entry point to pyproject.toml', async () => {
    await write('py/lib/core/pyproject.toml', '[project]\nname = "core"\n[tool.nx-pex]\nentry-point = "core.main:run"\n');
    const results = await createNodes[1](['py/lib/core/pyproject.toml'], {}, context());
    const core = results[0][1].projects!['py/lib/core'];
    expect(core.projectType).toBe('application');
    expect(core.targets!.build).toMatchObject({ executor: 'nx-pex:build', options: { lockPerProject: true }, syncGenerators: ['nx-pex:sync'] });
    expect(core.targets!.build.options).not.toHaveProperty('scripts');
    expect(core.targets!.build.metadata!.description).toMatch(/^Build core\.pex from /);
  });

  it('adds [tool.nx-pex] sources outside the project to the inputs', async () => {
    await write(
      'py/svc/api/pyproject.toml',
      '[project]\nname = "api"\n[project.scripts]\napi = "api.main:main"\n[tool.nx-pex]\nsources = ["../../shared/static", "assets"]\n',
    );
    const results = await createNodes[1](['py/svc/api/pyproject.toml'], {}, context());
    const inputs = results[0][1].projects!['py/svc/api'].targets!.build.inputs;
    expect(inputs).toContain('{workspaceRoot}/py/shared/static/**/*');
    expect(inputs).not.toContain('{workspaceRoot}/py/svc/api/assets/**/*');
  });

  it("takes as inputs what the build backend reads for metadata and the files its layout names, not the rest", async () => {
    await write(
      'py/svc/api/pyproject.toml',
      '[project]\nname = "api"\ndynamic = ["version"]\nreadme = "README.md"\n[project.scripts]\napi = "api.main:main"\n' +
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n[tool.hatch.version]\npath = "version.txt"\n' +
        '[tool.hatch.metadata.hooks.custom]\n[tool.hatch.build.targets.wheel]\npackages = ["src/api"]\n[tool.hatch.build.targets.wheel.force-include]\n"data/blob.bin" = "api/blob.bin"\n',
    );
    await write('py/svc/api/hatch_build.py', '');
    await write('py/svc/api/version.txt', '__version__ = "1"\n');
    await write('py/svc/api/README.md', '# api\n');
    await write('py/svc/api/data/blob.bin', 'x');
    await write('py/svc/api/notes.txt', 'not an input');
    const results = await createNodes[1](['py/svc/api/pyproject.toml'], {}, context());
    expect(results[0][1].projects!['py/svc/api'].namedInputs!['python-sources']).toEqual([
      '{projectRoot}/pyproject.toml',
      '{projectRoot}/src/api/**/*',
      '{projectRoot}/README.md',
      '{projectRoot}/data/blob.bin',
      '{projectRoot}/hatch_build.py',
      '{projectRoot}/version.txt',
      '!{projectRoot}/**/__pycache__/**/*',
    ]);
  });

  it('built for named platforms, a target has the platforms, not the interpreter, among its inputs', async () => {
    await write(
      'py/svc/api/pyproject.toml',
      '[project]\nname = "api"\n[project.scripts]\napi = "api.main:main"\n[tool.nx-pex]\nplatforms = ["manylinux2014_aarch64-cp-312-cp312"]\ncomplete-platforms = ["../../platforms/arm.json"]\n',
    );
    const results = await createNodes[1](['py/svc/api/pyproject.toml'], {}, context());
    const inputs = results[0][1].projects!['py/svc/api'].targets!.build.inputs!;
    expect(inputs).toContain('{workspaceRoot}/py/platforms/arm.json');
    expect(inputs.some((i) => typeof i === 'object' && 'runtime' in i)).toBe(false);
  });

  it('infers a push target, after the build and never cached, for a project with image = true, with a base on disk among the build inputs', async () => {
    const plain = Object.fromEntries(await createNodes[1](files, {}, context()));
    expect(plain['py/svc/api/pyproject.toml'].projects!['py/svc/api'].targets!.push).toBeUndefined();
    await write(
      'py/svc/api/pyproject.toml',
      '[project]\nname = "api"\ndependencies = ["fastapi"]\n[project.scripts]\napi = "api.main:main"\n[tool.nx-pex]\nimage = true\nimage-base = "../../base/layout"\nimage-repository = "registry.example.com/team/api"\n',
    );
    const byFile = Object.fromEntries(await createNodes[1](files, { pushTargetName: 'ship' }, context()));
    const targets = byFile['py/svc/api/pyproject.toml'].projects!['py/svc/api'].targets!;
    expect(targets.ship).toMatchObject({ executor: 'nx-pex:push', cache: false, dependsOn: ['build'] });
    expect(targets.ship!.metadata!.description).toBe("Push api's image to registry.example.com/team/api");
    expect(targets.build!.inputs).toEqual(expect.arrayContaining(['{workspaceRoot}/py/base/layout', '{workspaceRoot}/py/base/layout/**/*']));
  });

  it('takes the lock beside the project, or the one [tool.nx-pex] lock-file names, as an input', async () => {
    await write('py/svc/api/poetry.lock', '[metadata]\nlock-version = "2.0"\n');
    let results = await createNodes[1](['py/svc/api/pyproject.toml'], {}, context());
    let inputs = results[0][1].projects!['py/svc/api'].targets!.build.inputs!;
    expect(inputs).toContain('{workspaceRoot}/py/svc/api/poetry.lock');
    expect(inputs).not.toContain('{workspaceRoot}/py/uv.lock');
    await write('py/svc/api/pyproject.toml', '[project]\nname = "api"\n[project.scripts]\napi = "api.main:main"\n[tool.nx-pex]\nlock-file = "requirements.txt"\n');
    results = await createNodes[1](['py/svc/api/pyproject.toml'], {}, context());
    inputs = results[0][1].projects!['py/svc/api'].targets!.build.inputs!;
    expect(inputs).toContain('{workspaceRoot}/py/svc/api/requirements.txt');
  });

  it('passes the python option to the target and its interpreter input', async () => {
    const results = await createNodes[1](['py/svc/api/pyproject.toml'], { python: 'python3.12' }, context());
    const target = results[0][1].projects!['py/svc/api'].targets!.build;
    expect(target.options).toMatchObject({ python: 'python3.12' });
    expect(target.inputs).toContainEqual({ runtime: expect.stringMatching(/^python3\.12 -c /) });
  });

  it('keeps the whole uv.lock as the input with lockPerProject: false', async () => {
    const results = await createNodes[1](['py/svc/api/pyproject.toml'], { lockPerProject: false }, context());
    const target = results[0][1].projects!['py/svc/api'].targets!.build;
    expect(target.inputs).toContain('{workspaceRoot}/py/uv.lock');
    expect(target.inputs).not.toContain('{projectRoot}/pylock.toml');
    expect(target.syncGenerators).toBeUndefined();
    expect(target.options).toMatchObject({ lockPerProject: false });
  });

  it.each([
    ['a file that does not parse', '[project\nname = "core"\n', /: py\/lib\/core\/pyproject\.toml:1:\d+: /],
    ['an unknown [tool.nx-pex] key', '[project]\nname = "core"\n[tool.nx-pex]\nlayuot = "packed"\n', /unknown key "layuot"/],
    ['a missing script', '[project]\nname = "core"\n[project.scripts]\ncore = "core.main:main"\n[tool.nx-pex]\nscripts = ["nope"]\n', /scripts names "nope", which is not in \[project.scripts\]/],
  ])('keeps every other project, and gives a project with %s a build target that states the problem', async (_what, text, message) => {
    await write('py/lib/core/pyproject.toml', text);
    const results = await createNodes[1](files, {}, context());
    const byFile = Object.fromEntries(results);
    expect(byFile['py/svc/api/pyproject.toml'].projects!['py/svc/api'].targets!.build).toBeDefined();
    const core = byFile['py/lib/core/pyproject.toml'].projects!['py/lib/core'];
    expect(core.name).toBe('core');
    expect(core.targets!.build.executor).toBe('nx-pex:build');
    expect(core.targets!.build.metadata!.description).toMatch(message);
  });

  it('keeps both projects of one distribution name, each with a build that names the clash', async () => {
    await write('py/lib/core2/pyproject.toml', '[project]\nname = "Core"\n');
    await write('py/lib/core2/pyproject.toml', '[project]\nname = "core"\n');
    const results = await createNodes[1]([...files, 'py/lib/core2/pyproject.toml'], {}, context());
    const names = results.flatMap(([, r]) => Object.values(r.projects ?? {}).map((p) => p.name)).sort();
    expect(names).toEqual(['api', 'core@py/lib/core', 'core@py/lib/core2', 'util']);
    const core = Object.fromEntries(results)['py/lib/core2/pyproject.toml'].projects!['py/lib/core2'];
    expect(core.targets!.build.options).toEqual({
      problem: expect.stringMatching(/^Two workspace projects are named core: py\/lib\/core\/pyproject\.toml and py\/lib\/core2\/pyproject\.toml\./),
    });
  });

  it('rejects an unknown plugin option', async () => {
    await expect(createNodes[1](files, { buildTarget: 'x' } as never, context())).rejects.toThrow(/unknown plugin option "buildTarget"/);
  });
});

describe('selfInputs', () => {
  it('hashes the linked sources of nx-pex when the workspace links it, else names it as an external dependency', async () => {
    expect(selfInputs(ws)).toEqual([{ externalDependencies: ['nx-pex'] }]);
    await write(
      'package-lock.json',
      JSON.stringify({
        packages: {
          'node_modules/nx-pex': { resolved: 'plugins/nx-pex', link: true },
          'node_modules/@nx-pex/pep': { resolved: 'packages/pep', link: true },
          'node_modules/left-pad': { version: '1.0.0' },
        },
      }),
    );
    expect(selfInputs(ws)).toEqual(['{workspaceRoot}/packages/pep/**/*', '{workspaceRoot}/plugins/nx-pex/**/*']);
  });
});

describe('createDependencies', () => {
  it('links declared workspace dependencies and imports of other projects’ packages', async () => {
    const projects = {
      api: { root: 'py/svc/api' },
      core: { root: 'py/lib/core' },
      util: { root: 'py/lib/util' },
    };
    const deps = await createDependencies(
      {},
      {
        externalNodes: {},
        projects,
        nxJsonConfiguration: {},
        workspaceRoot: ws,
        fileMap: {
          projectFileMap: {
            api: [
              { file: 'py/svc/api/pyproject.toml', hash: '0' },
              { file: 'py/svc/api/src/api/__init__.py', hash: '1' },
              { file: 'py/svc/api/src/api/main.py', hash: '2' },
            ],
            core: [{ file: 'py/lib/core/pyproject.toml', hash: '3' }],
            util: [{ file: 'py/lib/util/pyproject.toml', hash: '4' }],
          },
          nonProjectFiles: [],
        },
        filesToProcess: {
          projectFileMap: {
            api: [
              { file: 'py/svc/api/src/api/__init__.py', hash: '1' },
              { file: 'py/svc/api/src/api/main.py', hash: '2' },
            ],
          },
          nonProjectFiles: [],
        },
      } as never,
    );
    expect(deps).toEqual([
      { source: 'api', target: 'core', sourceFile: 'py/svc/api/pyproject.toml', type: 'static' },
      { source: 'api', target: 'core', sourceFile: 'py/svc/api/src/api/main.py', type: 'static' },
      { source: 'api', target: 'util', sourceFile: 'py/svc/api/src/api/main.py', type: 'static' },
    ]);
  });
});

describe('createDependencies over a changing workspace', () => {
  const contextOf = (files: string[]) => {
    const projectFileMap: Record<string, Array<{ file: string; hash: string }>> = { api: [], core: [], util: [] };
    for (const file of files) {
      const owner = file.startsWith('py/svc/api/') ? 'api' : file.startsWith('py/lib/core/') ? 'core' : 'util';
      projectFileMap[owner].push({ file, hash: '0' });
    }
    const fileMap = { projectFileMap, nonProjectFiles: [] };
    return {
      externalNodes: {},
      projects: { api: { root: 'py/svc/api' }, core: { root: 'py/lib/core' }, util: { root: 'py/lib/util' } },
      nxJsonConfiguration: {},
      workspaceRoot: ws,
      fileMap,
      filesToProcess: { projectFileMap: { api: projectFileMap.api }, nonProjectFiles: [] },
    } as never;
  };

  it('sees a package added to another project', async () => {
    const files = [
      'py/svc/api/pyproject.toml',
      'py/svc/api/src/api/main.py',
      'py/lib/core/pyproject.toml',
      'py/lib/core/src/core/__init__.py',
      'py/lib/util/pyproject.toml',
      'py/lib/util/src/util/__init__.py',
    ];
    await write('py/svc/api/src/api/main.py', 'import core\nimport extra\n');
    const targets = async (f: string[]) =>
      (await createDependencies({}, contextOf(f))).filter((d) => 'sourceFile' in d && d.sourceFile.endsWith('.py')).map((d) => d.target);
    expect(await targets(files)).toEqual(['core']);
    await write('py/lib/util/src/extra/__init__.py', '');
    expect(await targets([...files, 'py/lib/util/src/extra/__init__.py'])).toEqual(['core', 'util']);
  });
});

describe('init generator', () => {
  it('registers the plugin once', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await initGenerator(tree, { skipFormat: true });
    await initGenerator(tree, { skipFormat: true });
    const plugins = readNxJson(tree)!.plugins!.filter((p) => (typeof p === 'string' ? p : p.plugin) === 'nx-pex');
    expect(plugins).toEqual([{ plugin: 'nx-pex', options: { buildTargetName: 'build', testTargetName: 'test' } }]);
  });

  it('creates nx.json in a directory without one, and ignores dist and reports once', async () => {
    const tree = createTree();
    tree.write('.gitignore', 'node_modules');
    await initGenerator(tree, { skipFormat: true });
    await initGenerator(tree, { skipFormat: true });
    expect(tree.exists('nx.json')).toBe(true);
    expect(readNxJson(tree)!.plugins).toEqual([{ plugin: 'nx-pex', options: { buildTargetName: 'build', testTargetName: 'test' } }]);
    expect(tree.read('.gitignore', 'utf8')).toBe('node_modules\n# nx-pex build outputs\ndist\n# nx-pex test reports (JUnit XML, coverage data)\nreports\n');
  });

  it('leaves a .gitignore that already ignores dist and reports alone', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('.gitignore', '/dist\nreports/\n');
    await initGenerator(tree, { skipFormat: true });
    expect(tree.read('.gitignore', 'utf8')).toBe('/dist\nreports/\n');
  });
});

describe('createDependencies from the lock', () => {
  const LOCK = [
    'version = 1',
    'revision = 3',
    'requires-python = ">=3.11"',
    '',
    '[manifest]',
    'members = ["app", "cli", "evals", "lib"]',
    '',
    '[[package]]',
    'name = "app"',
    'version = "0.1.0"',
    'source = { editable = "app" }',
    'dependencies = [{ name = "lib", extra = ["evals"] }]',
    '',
    '[[package]]',
    'name = "cli"',
    'version = "0.1.0"',
    'source = { editable = "cli" }',
    'dependencies = [{ name = "app" }]',
    '',
    '[[package]]',
    'name = "evals"',
    'version = "0.1.0"',
    'source = { editable = "evals" }',
    '',
    '[[package]]',
    'name = "lib"',
    'version = "0.1.0"',
    'source = { editable = "lib" }',
    '',
    '[package.optional-dependencies]',
    'evals = [{ name = "evals" }]',
    '',
  ].join('\n');

  beforeEach(async () => {
    await rm(join(ws, 'py'), { recursive: true, force: true });
    await write('py/pyproject.toml', '[tool.uv.workspace]\nmembers = ["*"]\n');
    await write('py/uv.lock', LOCK);
    const project = async (name: string, deps: string, body = '') => {
      await write(`py/${name}/pyproject.toml`, `[project]\nname = "${name}"\nversion = "0.1.0"\ndependencies = [${deps}]\n${body}`);
      await write(`py/${name}/src/${name}/__init__.py`, '');
    };
    await project('cli', '"app"', '[project.scripts]\ncli = "cli:main"\n[tool.uv.sources]\napp = { workspace = true }\n');
    await project('app', '"lib[evals]"', '[tool.uv.sources]\nlib = { workspace = true }\n');
    await project('lib', '', '[project.optional-dependencies]\nevals = ["evals"]\n[tool.uv.sources]\nevals = { workspace = true }\n');
    await project('evals', '');
    // Not a member of the uv workspace: its own lock takes lib from an index.
    await write('own/pyproject.toml', '[project]\nname = "own"\nversion = "0.1.0"\ndependencies = ["lib"]\n');
    await write('own/src/own/__init__.py', 'import lib\nimport evals\n');
    await write(
      'own/pylock.toml',
      `lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "lib"\nversion = "0.1.0"\nindex = "https://pypi.org/simple"\nwheels = [{ url = "https://files.example/lib-0.1.0-py3-none-any.whl", hashes = { sha256 = "${'b'.repeat(64)}" } }]\n`,
    );
    // Imports evals, which its lock does not hold: no edge (its build reports the import).
    await write('py/app/src/app/main.py', 'import cli\n');
  });

  const graph = async () => {
    const names = ['cli', 'app', 'lib', 'evals'];
    const projects: Record<string, { root: string }> = Object.fromEntries(names.map((n) => [n, { root: `py/${n}` }]));
    projects.own = { root: 'own' };
    const projectFileMap: Record<string, Array<{ file: string; hash: string }>> = Object.fromEntries(
      Object.entries(projects).map(([n, p]) => [n, [{ file: `${p.root}/pyproject.toml`, hash: '0' }, { file: `${p.root}/src/${n}/__init__.py`, hash: '1' }]]),
    );
    projectFileMap.app.push({ file: 'py/app/src/app/main.py', hash: '2' });
    const fileMap = { projectFileMap, nonProjectFiles: [] };
    const deps = await createDependencies({}, { externalNodes: {}, projects, nxJsonConfiguration: {}, workspaceRoot: ws, fileMap, filesToProcess: fileMap } as never);
    return deps.filter((d) => !d.target.startsWith('pypi:')).map((d) => `${d.source} -> ${d.target} (${d.type})`);
  };

  it("takes the workspace edges from the lock, through an extra of a workspace dependency, and no import the lock does not back", async () => {
    expect(await graph()).toEqual(['app -> evals (implicit)', 'app -> lib (implicit)', 'cli -> app (implicit)', 'cli -> evals (implicit)', 'cli -> lib (implicit)']);
  });

  it('falls back to declared dependencies and imports for a project the lock does not cover yet', async () => {
    const withoutCli = LOCK.split('\n[[package]]\n').filter((block) => !block.startsWith('name = "cli"')).join('\n[[package]]\n');
    await write('py/uv.lock', withoutCli.replace('"app", "cli", ', '"app", '));
    expect(await graph()).toEqual([
      'app -> evals (implicit)',
      'app -> lib (implicit)',
      'cli -> app (static)',
    ]);
  });

  it("takes the edges of a project's own pylock.toml from its directory entries", async () => {
    await write(
      'own/pylock.toml',
      'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "lib"\ndirectory = { path = "../py/lib" }\n',
    );
    expect(await graph()).toContain('own -> lib (implicit)');
    expect(await graph()).not.toContain('own -> evals (implicit)');
  });
});
