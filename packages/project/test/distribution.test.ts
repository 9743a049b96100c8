import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  collectSources,
  distInfoDirName,
  distInfoFiles,
  findImportRoots,
  hasVersion,
  metadataInputs,
  metadataNeedsBackend,
  parsePyproject,
  projectLayout,
  readPyproject,
  renderEntryPoints,
  renderMetadata,
  staticCoreMetadata,
} from '../src';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nx-pex-dist-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text = ''): Promise<void> {
  await mkdir(dirname(join(dir, rel)), { recursive: true });
  await writeFile(join(dir, rel), text);
}

async function paths(pyproject: string): Promise<string[]> {
  await write('pyproject.toml', pyproject);
  return (await collectSources(await readPyproject(join(dir, 'pyproject.toml')))).map((f) => f.path);
}

const HATCH = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n';

describe('core metadata from pyproject.toml', () => {
  const text = `[project]
name = "My.Lib"
version = "1.0-RC1"
description = "One line"
requires-python = ">=3.9"
dependencies = ["requests[socks]>=2; python_version >= '3.9'", "other-lib"]
[project.optional-dependencies]
Fancy_Things = ["six", "attrs; sys_platform == 'linux' or sys_platform == 'darwin'"]
[project.scripts]
my-cli = "my_lib.cli:main"
[project.gui-scripts]
my-gui = "my_lib.gui:main"
[project.entry-points."my.plugins"]
one = "my_lib.plugins:one [extra]"
`;

  it('writes METADATA, entry_points.txt and the dist-info name as a wheel of it would', () => {
    const project = parsePyproject(text, '/p/pyproject.toml');
    expect(metadataNeedsBackend(project)).toBeUndefined();
    const meta = staticCoreMetadata(project);
    expect(renderMetadata(meta)).toBe(
      [
        'Metadata-Version: 2.3',
        'Name: My.Lib',
        'Version: 1.0rc1',
        'Summary: One line',
        'Requires-Python: >=3.9',
        'Requires-Dist: requests[socks]>=2; python_version >= "3.9"',
        'Requires-Dist: other-lib',
        'Requires-Dist: six; extra == "fancy-things"',
        'Requires-Dist: attrs; (sys_platform == "linux" or sys_platform == "darwin") and extra == "fancy-things"',
        'Provides-Extra: fancy-things',
        '',
      ].join('\n'),
    );
    expect(renderEntryPoints(meta.entryPoints)).toBe(
      '[console_scripts]\nmy-cli = my_lib.cli:main\n\n[gui_scripts]\nmy-gui = my_lib.gui:main\n\n[my.plugins]\none = my_lib.plugins:one [extra]\n',
    );
    expect(distInfoDirName(meta.name, meta.version)).toBe('my_lib-1.0rc1.dist-info');
  });

  it('writes Requires-Dist as hatchling does for a hatchling project: names normalised, single quotes, an extra\'s own marker in parentheses, sorted', () => {
    const project = parsePyproject(
      `[project]
name = "h"
version = "1"
dependencies = ["uvicorn>=0.23.1; sys_platform != 'emscripten'", "PyJWT[crypto]>=2.10.1", "pydantic>=2", "pydantic-settings", "pyjwt[crypto]>=2.10.1"]
[project.optional-dependencies]
Color_Out = ["typer", "rich>=13; python_version >= '3.8' or sys_platform == 'linux'", "pkg @ https://example.org/pkg.whl"]
aaa = ["six"]
${HATCH}`,
      '/p/pyproject.toml',
    );
    const meta = staticCoreMetadata(project);
    // Sorted by the text written, each once; the extras by name, each one's requirements sorted too.
    expect(meta.requiresDist).toEqual([
      'pydantic-settings',
      'pydantic>=2',
      'pyjwt[crypto]>=2.10.1',
      "uvicorn>=0.23.1; sys_platform != 'emscripten'",
      "six; extra == 'aaa'",
      "pkg @ https://example.org/pkg.whl ; extra == 'color-out'",
      "rich>=13; (python_version >= '3.8' or sys_platform == 'linux') and extra == 'color-out'",
      "typer; extra == 'color-out'",
    ]);
    expect(meta.providesExtra).toEqual(['aaa', 'color-out']);
  });

  it('writes the fields that describe the project as PEP 621 maps them (authors, license, keywords, classifiers, urls)', () => {
    const described = `[project]
name = "desc"
version = "1"
authors = [{ name = "Org, Inc." }, { name = "Jane", email = "jane@example.org" }, { email = "bot@example.org" }]
maintainers = [{ name = "Max" }]
license = { text = "MIT" }
keywords = ["zeta", "alpha", "zeta"]
classifiers = ["Programming Language :: Python :: 3"]
[project.urls]
Homepage = "https://example.org"
"Bug Tracker" = "https://example.org/issues"
`;
    const setuptools = staticCoreMetadata(parsePyproject(described, '/p/pyproject.toml'));
    expect(renderMetadata(setuptools)).toBe(
      [
        'Metadata-Version: 2.3',
        'Name: desc',
        'Version: 1',
        'Author: Org, Inc.',
        'Author-email: Jane <jane@example.org>, bot@example.org',
        'Maintainer: Max',
        'License: MIT',
        'Keywords: zeta,alpha,zeta',
        'Classifier: Programming Language :: Python :: 3',
        'Project-URL: Homepage, https://example.org',
        'Project-URL: Bug Tracker, https://example.org/issues',
        '',
      ].join('\n'),
    );
    // hatchling sorts the keywords and drops duplicates; an SPDX string is a License-Expression (core metadata 2.4).
    const hatch = renderMetadata(staticCoreMetadata(parsePyproject(described.replace('license = { text = "MIT" }', 'license = "MIT OR Apache-2.0"') + HATCH, '/p/pyproject.toml')));
    expect(hatch).toMatch(/^Metadata-Version: 2\.4\n/);
    expect(hatch).toContain('\nLicense-Expression: MIT OR Apache-2.0\n');
    expect(hatch).toContain('\nKeywords: alpha,zeta\n');
    expect(hatch).not.toContain('\nLicense: ');
    // A license file's text is the backend's to copy: it is left out, never read.
    expect(renderMetadata(staticCoreMetadata(parsePyproject('[project]\nname = "f"\nversion = "1"\nlicense = { file = "LICENSE" }\n', '/p/pyproject.toml')))).not.toMatch(/License/);
    expect(() => staticCoreMetadata(parsePyproject('[project]\nname = "b"\nversion = "1"\nkeywords = "a, b"\n', '/p/pyproject.toml'))).toThrow(/pyproject\.toml: \[project\] keywords must be a list of strings/);
  });

  it('lists every file in RECORD with its sha256 and size, RECORD itself without', () => {
    const code = Buffer.from('x = 1\n');
    const digest = createHash('sha256').update(code).digest();
    const files = distInfoFiles({
      name: 'pkg',
      version: '1.0',
      metadata: 'Metadata-Version: 2.3\nName: pkg\nVersion: 1.0\n',
      entryPoints: '',
      files: [
        { path: 'pkg/__init__.py', sha256: digest, size: code.length },
        { path: 'single.py', sha256: digest, size: code.length },
        { path: 'odd,name/x.txt', sha256: digest, size: code.length },
      ],
    });
    expect(files.map((f) => f.path)).toEqual(['pkg-1.0.dist-info/METADATA', 'pkg-1.0.dist-info/top_level.txt', 'pkg-1.0.dist-info/RECORD']);
    expect(files[1]!.data.toString()).toBe('odd,name\npkg\nsingle\n');
    const record = files[2]!.data.toString().trimEnd().split('\n');
    expect(record).toContain(`pkg/__init__.py,sha256=${digest.toString('base64url')},6`);
    expect(record).toContain(`"odd,name/x.txt",sha256=${digest.toString('base64url')},6`);
    expect(record[record.length - 1]).toBe('pkg-1.0.dist-info/RECORD,,');
    const metadataRow = record.find((r) => r.startsWith('pkg-1.0.dist-info/METADATA,'))!;
    expect(metadataRow).toBe(`pkg-1.0.dist-info/METADATA,sha256=${createHash('sha256').update(files[0]!.data).digest('base64url')},${files[0]!.data.length}`);
  });

  it('asks for the backend exactly when a field that changes what runs is dynamic', () => {
    const p = (body: string) => parsePyproject(`[project]\nname = "p"\n${body}`, '/p/pyproject.toml');
    expect(metadataNeedsBackend(p('version = "1"\ndynamic = ["readme", "classifiers"]\n'))).toBeUndefined();
    expect(metadataNeedsBackend(p('dynamic = ["version"]\n'))).toMatch(/dynamic lists version/);
    expect(metadataNeedsBackend(p('version = "1"\ndynamic = ["dependencies", "optional-dependencies"]\n'))).toMatch(/dependencies, optional-dependencies/);
    expect(metadataNeedsBackend(p('version = "1"\ndynamic = ["entry-points"]\n'))).toMatch(/entry-points/);
    expect(hasVersion(p('dependencies = []\n'))).toBe(false);
    expect(hasVersion(p('dynamic = ["version"]\n'))).toBe(true);
    expect(metadataNeedsBackend(parsePyproject('[tool.poetry]\nname = "p"\nversion = "1"\n', '/p/pyproject.toml'))).toMatch(/no \[project\] table/);
  });

  it("names the files a backend reads for metadata, and not the project's code", async () => {
    await write('hatch_build.py');
    await write('src/p/__about__.py');
    await write('src/p/core.py');
    await write('README.md');
    await write(
      'pyproject.toml',
      `[project]\nname = "p"\nreadme = "README.md"\ndynamic = ["version"]\n${HATCH}[tool.hatch.version]\npath = "src/p/__about__.py"\n[tool.hatch.metadata.hooks.custom]\n`,
    );
    const inputs = metadataInputs(await readPyproject(join(dir, 'pyproject.toml')));
    expect(inputs).toEqual({ files: [join(dir, 'README.md'), join(dir, 'hatch_build.py'), join(dir, 'src/p/__about__.py')], vcs: false });
    await write('pyproject.toml', `[project]\nname = "p"\ndynamic = ["version"]\n${HATCH}[tool.hatch.version]\nsource = "vcs"\n`);
    expect(metadataInputs(await readPyproject(join(dir, 'pyproject.toml'))).vcs).toBe(true);
    await write('flitmod.py');
    await write('pyproject.toml', '[project]\nname = "flitmod"\ndynamic = ["version", "description"]\n[build-system]\nrequires = ["flit_core"]\nbuild-backend = "flit_core.buildapi"\n');
    expect(metadataInputs(await readPyproject(join(dir, 'pyproject.toml'))).files).toEqual([join(dir, 'flitmod.py')]);
    await write('src/pkg/__init__.py');
    await write('pyproject.toml', '[project]\nname = "pkg"\ndynamic = ["version"]\n[tool.setuptools.dynamic]\nversion = { attr = "pkg.__version__" }\n');
    expect(metadataInputs(await readPyproject(join(dir, 'pyproject.toml'))).files).toEqual([join(dir, 'src/pkg/__init__.py')]);
  });
});

describe('layouts, as each backend reads its configuration', () => {
  it('hatchling: a meta-package (bypass-selection) has no files and no complaint', async () => {
    await write('pyproject.toml', `[project]\nname = "meta"\nversion = "1"\n${HATCH}[tool.hatch.build.targets.wheel]\nbypass-selection = true\n`);
    const project = await readPyproject(join(dir, 'pyproject.toml'));
    expect(await projectLayout(project)).toMatchObject({ items: [], metadataOnly: true });
    expect(await collectSources(project)).toEqual([]);
    expect(await findImportRoots(project)).toEqual([]);
  });

  it('hatchling: without code, the message offers bypass-selection', async () => {
    await write('pyproject.toml', `[project]\nname = "empty"\nversion = "1"\n${HATCH}`);
    await expect(collectSources(await readPyproject(join(dir, 'pyproject.toml')))).rejects.toThrow(/no importable Python package found for empty.*bypass-selection = true/);
  });

  it('hatchling: only-include with sources, force-include, packages', async () => {
    await write('src/tool.py');
    await write('src/pkg/__init__.py');
    await write('data/blob.txt');
    expect(await paths(`[project]\nname = "t"\n${HATCH}[tool.hatch.build.targets.wheel]\nonly-include = ["src/tool.py", "src/pkg"]\nsources = ["src"]\n`)).toEqual([
      'pkg/__init__.py',
      'tool.py',
    ]);
    expect(await paths(`[project]\nname = "t"\n${HATCH}[tool.hatch.build.targets.wheel]\npackages = ["src/pkg"]\n[tool.hatch.build.targets.wheel.force-include]\n"data/blob.txt" = "pkg/blob.txt"\n`)).toEqual([
      'pkg/__init__.py',
      'pkg/blob.txt',
    ]);
    expect(await paths(`[project]\nname = "t"\n${HATCH}[tool.hatch.build.targets.wheel]\npackages = ["src/pkg"]\n[tool.hatch.build.targets.wheel.sources]\n"src/pkg" = "renamed"\n`)).toEqual([
      'renamed/__init__.py',
    ]);
  });

  it('setuptools: packages.find with where and exclude, py-modules, package-dir', async () => {
    await write('src/app/__init__.py');
    await write('src/app/tests/__init__.py');
    await write('src/app/sub/__init__.py');
    await write('src/other/__init__.py');
    const ST = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n';
    expect(await paths(`[project]\nname = "a"\n${ST}[tool.setuptools.packages.find]\nwhere = ["src"]\ninclude = ["app*"]\nexclude = ["app.tests*"]\n`)).toEqual([
      'app/__init__.py',
      'app/sub/__init__.py',
    ]);
    await write('lib/solo.py');
    expect(await paths(`[project]\nname = "s"\n${ST}[tool.setuptools]\npy-modules = ["solo"]\npackage-dir = { "" = "lib" }\n`)).toEqual(['solo.py']);
    expect(await paths(`[project]\nname = "a"\n${ST}[tool.setuptools]\npackages = ["app"]\npackage-dir = { "" = "src" }\n`)).toEqual(['app/__init__.py']);
    // A namespace package (no __init__.py) found by find's default namespaces = true.
    await write('src/ns/part/__init__.py');
    expect(await paths(`[project]\nname = "n"\n${ST}[tool.setuptools.packages.find]\nwhere = ["src"]\ninclude = ["ns*"]\n`)).toEqual(['ns/part/__init__.py']);
  });

  it('setuptools with setup.py and no static configuration: the backend decides', async () => {
    await write('setup.py', 'from setuptools import setup\nsetup()\n');
    await write('pyproject.toml', '[project]\nname = "legacy"\nversion = "1"\n[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n');
    expect((await projectLayout(await readPyproject(join(dir, 'pyproject.toml')))).backend).toMatch(/setup\.py decides/);
  });

  it('script files (.data/scripts) leave the project to the wheel its backend builds', async () => {
    await write('src/pkg/__init__.py');
    await write('bin/tool');
    for (const table of [
      '[tool.setuptools]\nscript-files = ["bin/tool"]\n',
      '[tool.hatch.build.targets.wheel.shared-scripts]\n"bin/tool" = "tool"\n',
      '[tool.poetry.scripts]\ntool = { reference = "bin/tool", type = "file" }\n',
    ]) {
      await write('pyproject.toml', `[project]\nname = "pkg"\nversion = "1"\n${table}`);
      expect((await projectLayout(await readPyproject(join(dir, 'pyproject.toml')))).backend).toMatch(/script files in the wheel's \.data\/scripts/);
    }
  });

  it('poetry-core, pdm-backend, flit-core, uv_build and maturin', async () => {
    await write('lib/host/__init__.py');
    expect(await paths('[project]\nname = "h"\n[tool.poetry]\npackages = [{ include = "host", from = "lib" }]\n[build-system]\nbuild-backend = "poetry.core.masonry.api"\n')).toEqual([
      'host/__init__.py',
    ]);
    await write('src/pdmpkg/__init__.py');
    expect(await paths('[project]\nname = "p"\n[tool.pdm.build]\nincludes = ["src/pdmpkg"]\n[build-system]\nbuild-backend = "pdm.backend"\n')).toEqual(['pdmpkg/__init__.py']);
    await write('flit_mod.py');
    expect(await paths('[project]\nname = "flit-mod"\n[build-system]\nbuild-backend = "flit_core.buildapi"\n')).toEqual(['flit_mod.py']);
    await write('src/ns2/part/__init__.py');
    expect(await paths('[project]\nname = "n"\n[tool.uv.build-backend]\nmodule-name = "ns2.part"\n[build-system]\nbuild-backend = "uv_build"\n')).toEqual(['ns2/part/__init__.py']);
    await write('python/rusty/__init__.py');
    expect(await paths('[project]\nname = "rusty"\n[tool.maturin]\npython-source = "python"\nmodule-name = "rusty._core"\n[build-system]\nbuild-backend = "maturin"\n')).toEqual([
      'rusty/__init__.py',
    ]);
    await write('Cargo.toml', '[package]\nname = "rusty"\n');
    expect((await projectLayout(await readPyproject(join(dir, 'pyproject.toml')))).backend).toMatch(/maturin compiles/);
  });

  it('names the project file and the key when a configured module is missing', async () => {
    await write('pyproject.toml', '[project]\nname = "gone"\n[tool.uv.build-backend]\nmodule-name = "nothere"\n[build-system]\nbuild-backend = "uv_build"\n');
    await expect(collectSources(await readPyproject(join(dir, 'pyproject.toml')))).rejects.toThrow(
      /pyproject\.toml: \[tool\.uv\.build-backend\] module-name is nothere, but neither src\/nothere\/ nor src\/nothere\.py exists/,
    );
  });
});
