import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { targetFromInterpreter, versionSatisfies, type InterpreterInfo } from '@nx-pex/pep';
import {
  evaluateLockMarker,
  generatedPylockHeader,
  generatedPylockText,
  generatedTestPylockText,
  parsePylock,
  parseUvLock,
  projectPylock,
  projectTestPylock,
  pylockClosure,
  testSelection,
} from '@nx-pex/lock';
import { FIXTURES } from './helpers';

const UV_ANSWERS = join(FIXTURES, 'pylock', 'uv-export');
const workspace = () => parseUvLock(readFileSync(join(FIXTURES, 'workspace', 'uv.lock'), 'utf8'), join(FIXTURES, 'workspace', 'uv.lock'));

function environments() {
  const base = JSON.parse(readFileSync(join(FIXTURES, 'interpreters.json'), 'utf8')).cp311 as InterpreterInfo;
  const out = [];
  for (const minor of [8, 9, 10, 11, 12, 13, 14]) {
    for (const [sys, system, os] of [['linux', 'Linux', 'posix'], ['darwin', 'Darwin', 'posix'], ['win32', 'Windows', 'nt']]) {
      const env = { ...base.markerEnvironment, python_version: `3.${minor}`, python_full_version: `3.${minor}.1`, sys_platform: sys, platform_system: system, os_name: os };
      out.push({ ...targetFromInterpreter({ ...base, markerEnvironment: env }), markerEnvironment: env });
    }
  }
  return out;
}

const names = (c: ReturnType<typeof pylockClosure>) => c.packages.map((e) => `${e.pkg.name} ${e.pkg.version ?? ''}`);

describe('the test lock of a project (pylock.test.toml)', () => {
  it("finds the project's test groups and extras in the uv.lock", () => {
    expect(testSelection(workspace(), 'svc-a')).toEqual({ groups: ['dev'], extras: [] });
    expect(testSelection(workspace(), 'lib-core')).toEqual({ groups: [], extras: [] });
    expect(projectTestPylock(workspace(), 'lib-core', { outputDir: '.', lockDir: '.' })).toBeUndefined();
  });

  it('installs on every environment what `uv export --package svc-a` (dev group included) installs, and without groups exactly the production lock', () => {
    const lock = workspace();
    const ours = parsePylock(generatedTestPylockText(lock, 'svc-a', { outputDir: '.', lockDir: '.' })!, 'pylock.test.toml');
    expect(ours.dependencyGroups).toEqual(['dev']);
    expect(ours.defaultGroups).toEqual(['dev']);
    const uv = parsePylock(readFileSync(join(UV_ANSWERS, 'workspace-svc-a-dev.toml'), 'utf8'), 'uv');
    const production = parsePylock(generatedPylockText(lock, 'svc-a', { outputDir: '.', lockDir: '.' }), 'pylock.toml');
    let compared = 0;
    for (const target of environments()) {
      if (!versionSatisfies(target.pythonVersion, lock.requiresPython!)) continue;
      // uv's export lists the project itself too: compare third-party packages and workspace names.
      expect(names(pylockClosure(ours, target, { project: 'svc-a' })).filter((n) => !n.startsWith('svc-a '))).toEqual(
        names(pylockClosure(uv, target)).filter((n) => !n.startsWith('svc-a ')),
      );
      expect(names(pylockClosure(ours, target, { groups: [] }))).toEqual(names(pylockClosure(production, target)));
      compared++;
    }
    expect(compared).toBeGreaterThan(10);
  });

  it("marks test-only packages with PEP 751's dependency_groups marker and keeps production markers as they are", () => {
    const lock = workspace();
    const test = projectTestPylock(lock, 'svc-a', { outputDir: '.', lockDir: '.' })!;
    const prod = projectPylock(lock, 'svc-a', { outputDir: '.', lockDir: '.' });
    const marker = (name: string) => test.packages.filter((p) => p.name === name).map((p) => p.marker);
    expect(marker('pytest-cov')).toEqual(["'dev' in dependency_groups"]);
    // Needed by tests on old Pythons only: the group and the edge's marker.
    expect(marker('tomli').every((m) => /^'dev' in dependency_groups and /.test(m ?? ''))).toBe(true);
    for (const p of prod.packages) {
      const same = test.packages.find((t) => t.name === p.name && t.version === p.version)!;
      expect([p.name, same.marker]).toEqual([p.name, p.marker]);
    }
    for (const target of environments().filter((t) => t.pythonVersion.startsWith('3.12'))) {
      expect(test.packages.filter((p) => p.marker !== undefined && evaluateLockMarker(p.marker, target, [], ['dev'])).length).toBeGreaterThan(0);
    }
  });

  it('has the generated first line, and the same input gives the same bytes', () => {
    const text = generatedTestPylockText(workspace(), 'svc-a', { outputDir: 'services/svc-a', lockDir: '.' })!;
    expect(generatedPylockHeader(text)!.source).toBe('../../uv.lock');
    expect(generatedTestPylockText(workspace(), 'svc-a', { outputDir: 'services/svc-a', lockDir: '.' })).toBe(text);
  });

  it('changes when a test-only package is bumped, while the production lock stays byte-identical', () => {
    const lock = workspace();
    const o = { outputDir: '.', lockDir: '.' };
    const [prod, test] = [generatedPylockText(lock, 'svc-a', o), generatedTestPylockText(lock, 'svc-a', o)];
    const cov = lock.packages.find((p) => p.name === 'pytest-cov')!;
    cov.version = '0.0.1';
    expect(generatedPylockText(lock, 'svc-a', o)).toBe(prod);
    expect(generatedTestPylockText(lock, 'svc-a', o)).not.toBe(test);
  });
});
