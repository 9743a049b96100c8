import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildableScripts,
  collectSources,
  findImportRoots,
  findLockFile,
  importedTopLevelModules,
  mergeSources,
  parsePyproject,
  PyprojectError,
  readPyproject,
} from '@nx-pex/project';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nx-pex-project-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text = ''): Promise<void> {
  await mkdir(join(dir, rel, '..'), { recursive: true });
  await writeFile(join(dir, rel), text);
}

describe('parsePyproject', () => {
  it('reads name, dependencies, scripts, uv sources and workspace', () => {
    const p = parsePyproject(
      `[project]
name = "Service_A"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["fastapi>=0.100", "greeting", "colorama; sys_platform == 'win32'"]

[project.scripts]
service-a = "service_a.main:main"
admin = "service_a.admin:cli [extra]"

[tool.uv.sources]
Greeting = { workspace = true }

[tool.uv.workspace]
members = ["libs/*"]
`,
      '/w/service-a/pyproject.toml',
    );
    expect(p.name).toBe('Service_A');
    expect(p.canonicalName).toBe('service-a');
    expect(p.dir).toBe('/w/service-a');
    expect(p.dependencies.map((d) => d.name)).toEqual(['fastapi', 'greeting', 'colorama']);
    expect(p.dependencies[0].specifier).toBe('>=0.100');
    expect(p.scripts).toEqual({ 'service-a': 'service_a.main:main', admin: 'service_a.admin:cli [extra]' });
    expect(p.uvSources).toEqual({ greeting: expect.objectContaining({ workspace: true }) });
    expect(p.uvWorkspace).toEqual({ members: ['libs/*'], exclude: [] });
    expect(buildableScripts(p)).toEqual(['admin', 'service-a']);
  });

  it('names the file, line and column of a TOML syntax error', () => {
    expect(() => parsePyproject('[project]\nname = "x"\ndependencies = [\n', '/w/x/pyproject.toml')).toThrow(
      /^\/w\/x\/pyproject\.toml:4:1: Invalid TOML document/,
    );
  });

  it('rejects a bad requirement, naming the entry', () => {
    expect(() => parsePyproject('[project]\nname = "x"\ndependencies = ["ok", "bad >=> 1"]\n', 'p.toml')).toThrow(
      /p\.toml: \[project\] dependencies\[1\] "bad >=> 1" is not a valid requirement/,
    );
  });

  it('rejects a console script that is not an entry point', () => {
    expect(() => parsePyproject('[project]\nname = "x"\n[project.scripts]\nx = "not valid!"\n', 'p.toml')).toThrow(
      PyprojectError,
    );
  });

  it('restricts the scripts with [tool.nx-pex] and checks them', () => {
    const p = parsePyproject(
      '[project]\nname = "x"\n[project.scripts]\na = "m:a"\nb = "m:b"\n[tool.nx-pex]\nscripts = ["b"]\n',
      'p.toml',
    );
    expect(buildableScripts(p)).toEqual(['b']);
    expect(() => parsePyproject('[project]\nname = "x"\n[tool.nx-pex]\nscripts = ["zz"]\n', 'p.toml')).toThrow(
      /scripts names "zz", which is not in \[project.scripts\]/,
    );
    expect(() => parsePyproject('[project]\nname = "x"\n[tool.nx-pex]\nlayuot = "packed"\n', 'p.toml')).toThrow(
      /unknown key "layuot"/,
    );
  });

  it('treats a file without [project] as no project', () => {
    const p = parsePyproject('[tool.uv.workspace]\nmembers = ["a/*"]\n', 'p.toml');
    expect(p.name).toBeUndefined();
    expect(p.uvWorkspace?.members).toEqual(['a/*']);
  });

  it('reports an unreadable file by path', async () => {
    await expect(readPyproject(join(dir, 'missing', 'pyproject.toml'))).rejects.toThrow(/missing\/pyproject\.toml: cannot be read \(ENOENT\)/);
  });
});

describe('sources', () => {
  it('takes every package and module of a src layout, resources included, caches excluded', async () => {
    await write('pyproject.toml', '[project]\nname = "svc"\n');
    await write('src/svc/__init__.py', 'x = 1\n');
    await write('src/svc/data/messages.txt', 'hi\n');
    await write('src/svc/__pycache__/__init__.cpython-311.pyc', 'junk');
    await write('src/svc/sub/mod.pyc', 'junk');
    await write('src/helper.py', '');
    await write('src/notes/readme.txt', 'no python here');
    await write('tests/test_svc.py', '');
    const project = await readPyproject(join(dir, 'pyproject.toml'));
    const files = await collectSources(project);
    expect(files.map((f) => f.path)).toEqual(['helper.py', 'svc/__init__.py', 'svc/data/messages.txt']);
    expect(files[1].absPath).toBe(join(dir, 'src/svc/__init__.py'));
  });

  it('takes packages with __init__.py and plain modules in a flat layout, not tests or setup.py', async () => {
    await write('pyproject.toml', '[project]\nname = "flat"\n');
    await write('flat/__init__.py');
    await write('tests/__init__.py');
    await write('scripts/tool.sh');
    await write('setup.py');
    await write('test_flat.py');
    await write('cli.py');
    const roots = await findImportRoots(await readPyproject(join(dir, 'pyproject.toml')));
    expect(roots).toEqual([{ dir, entries: ['cli.py', 'flat'] }]);
  });

  it('follows hatch and poetry package lists', async () => {
    await write('lib/pkg/__init__.py');
    await write('pyproject.toml', '[project]\nname = "h"\n[tool.hatch.build.targets.wheel]\npackages = ["lib/pkg"]\n');
    expect(await findImportRoots(await readPyproject(join(dir, 'pyproject.toml')))).toEqual([
      { dir: join(dir, 'lib'), entries: ['pkg'] },
    ]);
    await write('pyproject.toml', '[project]\nname = "p"\n[tool.poetry]\npackages = [{ include = "pkg", from = "lib" }]\n');
    expect(await findImportRoots(await readPyproject(join(dir, 'pyproject.toml')))).toEqual([
      { dir: join(dir, 'lib'), entries: ['pkg'] },
    ]);
    await write('pyproject.toml', '[project]\nname = "p"\n[tool.hatch.build.targets.wheel]\npackages = ["nope"]\n');
    await expect(findImportRoots(await readPyproject(join(dir, 'pyproject.toml')))).rejects.toThrow(/names nope, which does not exist/);
  });

  it('says where to put code when a project has none', async () => {
    await write('pyproject.toml', '[project]\nname = "empty"\n');
    await expect(collectSources(await readPyproject(join(dir, 'pyproject.toml')))).rejects.toThrow(
      /no importable Python package found for empty/,
    );
  });

  it('refuses two projects that provide the same path', () => {
    const a = parsePyproject('[project]\nname = "a"\n', '/w/a/pyproject.toml');
    const b = parsePyproject('[project]\nname = "b"\n', '/w/b/pyproject.toml');
    expect(() =>
      mergeSources([
        { project: a, files: [{ path: 'common/__init__.py', absPath: '/w/a/src/common/__init__.py' }] },
        { project: b, files: [{ path: 'common/__init__.py', absPath: '/w/b/src/common/__init__.py' }] },
      ]),
    ).toThrow(/common\/__init__\.py is provided by both a .* and b/);
  });
});

describe('findLockFile', () => {
  it('finds the nearest uv.lock and stops at the workspace root', async () => {
    await write('ws/uv.lock', '');
    await write('ws/services/a/pyproject.toml', '');
    expect(await findLockFile(join(dir, 'ws/services/a'), dir)).toBe(join(dir, 'ws/uv.lock'));
    expect(await findLockFile(join(dir, 'ws/services/a'), join(dir, 'ws/services'))).toBeUndefined();
  });

  it('looks at each directory once across lookups that share their answers', async () => {
    await write('ws/uv.lock', '');
    await write('ws/services/b/sub/pyproject.toml', '');
    const seen = new Map<string, Promise<string | undefined>>();
    expect(await findLockFile(join(dir, 'ws/services/a'), dir, seen)).toBe(join(dir, 'ws/uv.lock'));
    // The project's own directory is looked at for every lock name, its parents for uv.lock.
    expect([...seen.keys()]).toEqual([join(dir, 'ws/services'), join(dir, 'ws')]);
    expect(await findLockFile(join(dir, 'ws/services/b/sub'), dir, seen)).toBe(join(dir, 'ws/uv.lock'));
    expect(seen.size).toBe(3);
  });

  it('prefers a lock beside pyproject.toml: pylock.toml, then poetry.lock, then uv.lock', async () => {
    await write('ws/uv.lock', '');
    await write('ws/p/poetry.lock', '');
    await write('ws/q/poetry.lock', '');
    await write('ws/q/pylock.toml', '');
    await write('ws/r/uv.lock', '');
    await write('ws/r/poetry.lock', '');
    await write('ws/s/pyproject.toml', '');
    expect(await findLockFile(join(dir, 'ws/p'), dir)).toBe(join(dir, 'ws/p/poetry.lock'));
    expect(await findLockFile(join(dir, 'ws/q'), dir)).toBe(join(dir, 'ws/q/pylock.toml'));
    expect(await findLockFile(join(dir, 'ws/r'), dir)).toBe(join(dir, 'ws/r/poetry.lock'));
    expect(await findLockFile(join(dir, 'ws/s'), dir)).toBe(join(dir, 'ws/uv.lock'));
    // A poetry.lock of a parent project does not govern the projects below it.
    expect(await findLockFile(join(dir, 'ws/p/inner'), join(dir, 'ws/p'))).toBeUndefined();
  });
});

describe('importedTopLevelModules', () => {
  it('finds absolute imports in their several forms', () => {
    const src = [
      'import os, sys as system',
      'import greeting.core',
      'from fastapi import FastAPI',
      'from . import sibling',
      'from .pkg import thing',
      '    import numpy as np  # inside a function',
      'from service_a.main import (',
      '    main,',
      ')',
      '# import commented_out',
      'x = "not an import"',
    ].join('\n');
    expect(importedTopLevelModules(src)).toEqual(['fastapi', 'greeting', 'numpy', 'os', 'service_a', 'sys']);
  });
});
