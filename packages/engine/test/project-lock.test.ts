/**
 * Builds of the example workspace from per-project pylock.toml files: generated ones checked
 * against the uv.lock, a user's own read as it is, and undeclared workspace imports refused.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseUvLock } from '@nx-pex/lock';
import { buildProject, projectLockText } from '@nx-pex/engine';
import { describeWith } from '@nx-pex/testkit';

jest.setTimeout(120_000);

const REPO = join(__dirname, '..', '..', '..');
const WHEELS = join(REPO, '.cache', 'wheels');
let ws: string;
let store: string;
const env = () => ({ ...process.env, PIP_CONFIG_FILE: '/dev/null', PIP_FIND_LINKS: WHEELS, PIP_NO_INDEX: '1', NX_PEX_OFFLINE: '' });

function sync(project: string, dir: string): string {
  const lockPath = join(ws, 'uv.lock');
  const text = projectLockText(parseUvLock(readFileSync(lockPath, 'utf8'), lockPath), project, join(ws, dir), lockPath);
  writeFileSync(join(ws, dir, 'pylock.toml'), text);
  return text;
}

const build = (extra: Partial<Parameters<typeof buildProject>[0]> = {}) =>
  buildProject({
    projectDir: join(ws, 'services/service-b'),
    workspaceRoot: ws,
    outputDir: join(ws, 'dist'),
    storeDir: store,
    env: env(),
    ...extra,
  });

beforeEach(() => {
  ws = mkdtempSync(join(tmpdir(), 'nx-pex-project-lock-'));
  store = join(ws, '.store');
  cpSync(join(REPO, 'examples'), ws, { recursive: true, filter: (s) => !/node_modules|\.venv|__pycache__/.test(s) });
});
afterEach(() => rmSync(ws, { recursive: true, force: true }));

describeWith(['wheels', 'python3=3.11'], 'per-project locks', () => {
  it('builds from the generated pylock.toml, and the PEX runs', async () => {
    sync('service-b', 'services/service-b');
    const lines: string[] = [];
    const result = await build({ lockPerProject: true, log: (l) => lines.push(l) });
    expect(result.lockFile).toBe(join(ws, 'services/service-b/pylock.toml'));
    expect(result.wheels).toBe(1);
    const out = execFileSync('python3', [result.outputs[0].path, '1', '2', '3'], { encoding: 'utf8', env: { ...process.env, PEX_ROOT: join(ws, 'pex-root') } });
    expect(out).toMatch(/"mean": 2/);
  });

  it('ignores uv.lock changes outside the closure, and stops on a stale lock telling to run nx sync', async () => {
    const before = sync('service-b', 'services/service-b');
    const lockPath = join(ws, 'uv.lock');
    const uv = readFileSync(lockPath, 'utf8');
    // A change to a package service-b does not use leaves its pylock.toml current.
    writeFileSync(lockPath, uv.replace('name = "click"\nversion = "8.5.1"', 'name = "click"\nversion = "8.5.2"'));
    expect(sync('service-b', 'services/service-b')).toBe(before);
    await expect(build({ lockPerProject: true })).resolves.toBeTruthy();
    // A change to numpy's files makes it stale.
    writeFileSync(lockPath, uv.replace(/(name = "numpy"\nversion = "2.4.6"[\s\S]*?wheels = \[\n)    \{[^\n]*\n/, '$1'));
    await expect(build({ lockPerProject: true })).rejects.toThrow(
      /services\/service-b\/pylock\.toml is out of date: .*uv\.lock has changed since it was generated \(or it was edited by hand\)\. Run `nx sync`/,
    );
    // A hand edit too.
    sync('service-b', 'services/service-b');
    const p = join(ws, 'services/service-b/pylock.toml');
    writeFileSync(p, readFileSync(p, 'utf8').replace('requires-python = ">=3.11"', 'requires-python = ">=3.10"'));
    await expect(build({ lockPerProject: true })).rejects.toThrow(/is out of date.*Run `nx sync`/);
  });

  it('asks for nx sync when the target needs a pylock.toml that is missing; lockPerProject false reads the uv.lock', async () => {
    rmSync(join(ws, 'services/service-b/pylock.toml'), { force: true });
    await expect(build({ lockPerProject: true })).rejects.toThrow(/services\/service-b\/pylock\.toml does not exist.*run `nx sync`/);
    // A project the uv.lock does not cover is told to run uv lock first.
    const fresh = join(ws, 'services/new-svc');
    require('node:fs').mkdirSync(join(fresh, 'src/new_svc'), { recursive: true });
    writeFileSync(join(fresh, 'src/new_svc/__init__.py'), 'def main():\n    pass\n');
    writeFileSync(join(fresh, 'pyproject.toml'), '[project]\nname = "new-svc"\nversion = "0.1.0"\n\n[project.scripts]\nnew-svc = "new_svc:main"\n');
    await expect(build({ projectDir: fresh, lockPerProject: true })).rejects.toThrow(/uv\.lock does not cover the project new-svc .*run `uv lock` to add it, then `nx sync`/);
    writeFileSync(join(ws, 'services/service-b/pylock.toml'), 'not toml [');
    const result = await build({ lockPerProject: false });
    expect(result.lockFile).toBe(join(ws, 'uv.lock'));
  });

  it("reads a user's own pylock.toml (uv export's) as the project's lock", async () => {
    const own = readFileSync(join(REPO, 'packages/lock/test/fixtures/pylock/uv-export/example-service-b.toml'), 'utf8');
    writeFileSync(join(ws, 'services/service-b/pylock.toml'), own);
    // Even with a uv.lock that disagrees: the user's file is not checked against it.
    writeFileSync(join(ws, 'uv.lock'), readFileSync(join(ws, 'uv.lock'), 'utf8').replace('name = "click"\nversion = "8.5.1"', 'name = "click"\nversion = "9"'));
    const result = await build({ lockPerProject: true });
    expect(result.lockFile).toBe(join(ws, 'services/service-b/pylock.toml'));
    expect(result.wheels).toBe(1);
  });

  it('refuses a pylock.toml of `nx-pex lock` that the uv.lock now also covers, naming both files; builds from it when lock-file names it', async () => {
    const own = readFileSync(join(REPO, 'packages/lock/test/fixtures/pylock/uv-export/example-service-b.toml'), 'utf8').replace(/^created-by = .*$/m, 'created-by = "nx-pex"');
    writeFileSync(join(ws, 'services/service-b/pylock.toml'), own);
    await expect(build({ lockPerProject: true })).rejects.toThrow(
      new RegExp(`services/service-b/pylock\\.toml was written by \`nx-pex lock\` .*but ${ws}/uv\\.lock now covers service-b too.*Run \`nx sync\``),
    );
    const kept = await build({ lockPerProject: true, lockFile: join(ws, 'services/service-b/pylock.toml') });
    expect(kept.lockFile).toBe(join(ws, 'services/service-b/pylock.toml'));
  });

  it("takes a wheel a user's pylock.toml gives by path, relative to the lock", async () => {
    const numpy = 'numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl';
    const dir = join(ws, 'services/service-b');
    cpSync(join(WHEELS, numpy), join(dir, 'vendor', numpy));
    const sha = require('node:crypto').createHash('sha256').update(readFileSync(join(WHEELS, numpy))).digest('hex');
    writeFileSync(
      join(dir, 'pylock.toml'),
      [
        'lock-version = "1.0"',
        'requires-python = ">=3.11"',
        '',
        '[[packages]]',
        'name = "numpy"',
        'version = "2.4.6"',
        `wheels = [{ path = "vendor/${numpy}", hashes = { sha256 = "${sha}" } }]`,
        '',
        '[[packages]]',
        'name = "greeting"',
        'directory = { path = "../../libs/greeting" }',
        '',
      ].join('\n'),
    );
    // Only the pex runtime comes from find-links: numpy must come from the path the lock gives.
    const pexOnly = join(ws, 'pex-only');
    for (const f of require('node:fs').readdirSync(WHEELS).filter((f: string) => f.startsWith('pex-2.105.2'))) cpSync(join(WHEELS, f), join(pexOnly, f));
    const result = await build({ lockPerProject: true, env: { ...env(), PIP_FIND_LINKS: pexOnly } });
    expect(result.wheels).toBe(1);
    const out = execFileSync('python3', [result.outputs[0].path, '4'], { encoding: 'utf8', env: { ...process.env, PEX_ROOT: join(ws, 'pex-root') } });
    expect(out).toMatch(/Hello from greeting, service-b!/);
  });

  it('names a dependency cycle between workspace projects, and a workspace dependency that does not exist', async () => {
    const greeting = join(ws, 'libs/greeting/pyproject.toml');
    const text = readFileSync(greeting, 'utf8');
    writeFileSync(greeting, text.replace('dependencies = []', 'dependencies = ["service-b"]').concat('\n[tool.uv.sources]\nservice-b = { workspace = true }\n'));
    await expect(build({ lockPerProject: false })).rejects.toThrow(
      'A dependency cycle between workspace projects: service-b -> greeting -> service-b (services/service-b/pyproject.toml, libs/greeting/pyproject.toml). Break it',
    );
    writeFileSync(greeting, text);
    const b = join(ws, 'services/service-b/pyproject.toml');
    writeFileSync(b, readFileSync(b, 'utf8').replace('"greeting",', '"greeting",\n    "money",').replace('greeting = { workspace = true }', 'greeting = { workspace = true }\nmoney = { workspace = true }'));
    await expect(build({ lockPerProject: false })).rejects.toThrow(
      /^services\/service-b\/pyproject\.toml: service-b depends on the workspace project money .*but no project of the workspace is named money/,
    );
  });

  it('stops on an import of a workspace project that is not declared, naming file, line and the fix', async () => {
    // service-b's own code imports service_a, which only the workspace project service-a provides.
    const main = join(ws, 'services/service-b/src/service_b/main.py');
    writeFileSync(main, readFileSync(main, 'utf8').replace('import numpy as np\n', 'import numpy as np\nfrom service_a import main as _a\n'));
    const line = readFileSync(main, 'utf8').split('\n').indexOf('from service_a import main as _a') + 1;
    await expect(build({ lockPerProject: false })).rejects.toThrow(
      new RegExp(
        `^services/service-b/src/service_b/main\\.py:${line}: imports service_a, which the workspace project service-a \\(services/service-a\\) provides, ` +
          `but service-b does not depend on it.*Add "service-a" to \\[project\\] dependencies in services/service-b/pyproject\\.toml and, under \\[tool\\.uv\\.sources\\], service-a = \\{ workspace = true \\}`,
      ),
    );
  });
});
