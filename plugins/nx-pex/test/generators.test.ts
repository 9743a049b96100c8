/** The python-service and python-library generators on an in-memory tree. */
import { logger, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parsePyproject } from '@nx-pex/project';
import pythonLibraryGenerator from '../src/generators/python-library/generator';
import pythonServiceGenerator from '../src/generators/python-service/generator';

function workspace(members = '["services/*", "libs/*"]'): Tree {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('py/pyproject.toml', `[tool.uv.workspace]\nmembers = ${members}\n`);
  tree.write('py/libs/greeting/pyproject.toml', '[project]\nname = "greeting"\nversion = "0.1.0"\n');
  return tree;
}

afterEach(() => jest.restoreAllMocks());

describe('python-service and python-library', () => {
  it('adds a service with a console script, src layout, a test and its dependencies', async () => {
    const tree = workspace();
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    const done = await pythonServiceGenerator(tree, { name: 'billing-api', dependencies: 'greeting, requests>=2', allowExternal: true, skipLock: true, skipFormat: true });
    const p = parsePyproject(tree.read('py/services/billing-api/pyproject.toml', 'utf-8')!, 'x');
    expect(p.name).toBe('billing-api');
    expect(p.scripts).toEqual({ 'billing-api': 'billing_api.main:main' });
    expect(p.dependencyStrings).toEqual(['greeting', 'requests>=2']);
    expect(p.uvSources).toEqual({ greeting: expect.objectContaining({ workspace: true }) });
    expect(p.raw['build-system']).toEqual({ requires: ['hatchling'], 'build-backend': 'hatchling.build' });
    expect(tree.read('py/services/billing-api/src/billing_api/main.py', 'utf-8')).toMatch(/def main\(\) -> int:/);
    expect(tree.exists('py/services/billing-api/tests/test_main.py')).toBe(true);
    // pytest in a PEP 735 test group, which uv locks and nx sync writes into pylock.test.toml.
    expect(p.raw['dependency-groups']).toEqual({ test: ['pytest>=8'] });
    // services/* already covers it.
    expect(tree.read('py/pyproject.toml', 'utf-8')).toBe('[tool.uv.workspace]\nmembers = ["services/*", "libs/*"]\n');
    done!();
    expect(info.mock.calls.join('\n')).toMatch(/run `uv lock` in py and then `nx sync`/);
  });

  it('adds a library to the members when no glob covers it, and says when uv is not there', async () => {
    const tree = workspace('["libs/greeting"]');
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const done = await pythonLibraryGenerator(tree, { name: 'money', skipFormat: true });
    expect(tree.read('py/pyproject.toml', 'utf-8')).toBe('[tool.uv.workspace]\nmembers = ["libs/greeting", "libs/money"]\n');
    const p = parsePyproject(tree.read('py/libs/money/pyproject.toml', 'utf-8')!, 'x');
    expect(p.scripts).toEqual({});
    expect(tree.read('py/libs/money/src/money/__init__.py', 'utf-8')).toMatch(/def hello/);
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      done!();
    } finally {
      process.env.PATH = path;
    }
    expect(warn.mock.calls.join('\n')).toMatch(/uv is not on PATH, so py\/uv\.lock does not cover money yet\. nx-pex needs uv to lock a uv workspace: install it \(`curl -LsSf https:\/\/astral\.sh\/uv\/install\.sh \| sh`, or `pipx install uv`\), then run `uv lock` in py and `nx sync`/);
  });

  it('refuses a name that exists or is not a distribution name, and a tree without a uv workspace', async () => {
    await expect(pythonLibraryGenerator(workspace(), { name: 'Greeting', skipFormat: true })).rejects.toThrow(/A project named greeting already exists in py\/libs\/greeting/);
    await expect(pythonServiceGenerator(workspace(), { name: 'bad name', skipFormat: true })).rejects.toThrow(/not a valid Python distribution name/);
    await expect(pythonServiceGenerator(createTreeWithEmptyWorkspace(), { name: 'x', skipFormat: true })).rejects.toThrow(/No uv workspace found/);
  });

  it('reports a --dependencies name that is no workspace project, and takes it from the index only with --allow-external', async () => {
    const tree = workspace();
    await expect(pythonServiceGenerator(tree, { name: 'billing', dependencies: 'greting', skipLock: true, skipFormat: true })).rejects.toThrow(
      /--dependencies names "greting", which is not a project of this workspace \(its projects: greeting\), so it would be taken from the package index\. If that is what you want, run again with --allow-external/,
    );
    expect(tree.exists('py/services/billing/pyproject.toml')).toBe(false);
    await pythonServiceGenerator(tree, { name: 'billing', dependencies: 'greeting', skipLock: true, skipFormat: true });
    expect(parsePyproject(tree.read('py/services/billing/pyproject.toml', 'utf-8')!, 'x').dependencyStrings).toEqual(['greeting']);
  });
});
