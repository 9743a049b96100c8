/** Whether a Python project has tests for pytest to run, decided from its files without Python. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Configuration files pytest reads (`[pytest]` in tox.ini, `[tool:pytest]` in setup.cfg). */
export const PYTEST_CONFIG_FILES = ['pytest.ini', '.pytest.ini', 'pyproject.toml', 'tox.ini', 'setup.cfg'] as const;

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Whether a project has tests: pytest configuration (`[tool.pytest.ini_options]`, pytest.ini,
 * `[tool:pytest]` in setup.cfg, `[pytest]` in tox.ini), a conftest.py, a tests/ or test/
 * directory, or test_*.py / *_test.py files next to its pyproject.toml. `entries`: the names in
 * the project's directory.
 */
export function hasTests(projectDir: string, pyprojectText: string, entries: readonly string[]): boolean {
  if (/^\s*\[\s*tool\.pytest(\.ini_options)?\s*\]/m.test(pyprojectText)) return true;
  const has = new Set(entries);
  if (has.has('pytest.ini') || has.has('.pytest.ini') || has.has('conftest.py') || has.has('tests') || has.has('test')) return true;
  if (entries.some((e) => /^test_.*\.py$/.test(e) || /^.+_test\.py$/.test(e))) return true;
  if (has.has('setup.cfg') && /^\s*\[tool:pytest\]/m.test(read(join(projectDir, 'setup.cfg')))) return true;
  if (has.has('tox.ini') && /^\s*\[pytest\]/m.test(read(join(projectDir, 'tox.ini')))) return true;
  return false;
}
