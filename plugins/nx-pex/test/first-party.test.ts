/**
 * Workspace projects inside a PEX are distributions. The fixture workspace
 * (fixtures/first-party, one member per pattern: a CLI printing its own and a library's version,
 * a plugin host and a first-party entry point, extras of a workspace dependency, a hatch metadata
 * hook with a version from a file, a meta-package, a namespace package, a single module, one
 * member per backend, the fields that describe a project, a source given only by the root) is
 * locked with uv against a local index of the build backends; every console script is built by
 * nx-pex (its CLI) and by pex 2.105.2 from `uv export` of the same lock, both PEX files are run,
 * and what they print (`importlib.metadata`'s answers for every member) must be equal; so must
 * the answers of nx-pex's `first-party = "wheel"` form. Then a source edit must rebuild without
 * running any build backend, and an edit of the metadata hook must run it again.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith, pexBinary, uvBinary } from '@nx-pex/testkit';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { REPO, requireBuiltCli } from './support';

jest.setTimeout(900_000);

const NX_PEX = join(__dirname, '..', 'bin', 'nx-pex.js');
const FIXTURE = join(__dirname, 'fixtures', 'first-party');
const INDEX_DIR = join(REPO, '.cache', 'backend-index');
/** pex's vendored pip (20.3.4) cannot resolve an extra of a local project (`fp-lib[fancy]` beside `./lib`): pex users pick a newer pip. */
const PEX_PIP = ['--pip-version', '26.2.1'];
/** The log line of a build backend asked for metadata (packages/resolver/src/backend.ts). */
const BACKEND_RUN = /Running the build backend of .* for its metadata/g;

/** Console scripts of the fixture, by member directory. */
const SCRIPTS: Array<{ dir: string; project: string; script: string }> = [
  { dir: 'cli', project: 'fp-cli', script: 'fp-cli' },
  { dir: 'host', project: 'fp-host', script: 'fp-host' },
  { dir: 'hooked', project: 'fp-hooked', script: 'fp-hooked' },
  { dir: 'flit', project: 'fp-flit', script: 'fp-flit' },
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 64 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err ? (err as NodeJS.ErrnoException & { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

function ok(what: string, r: Run): Run {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

describeWith(['pex', 'uv'], 'first-party projects are distributions: nx-pex and pex build the fixture workspace alike', () => {
  let scratch: string;
  let ws: string;
  let server: IndexServer;
  let env: NodeJS.ProcessEnv;
  let index: string[];
  const nxPexLogs: Record<string, string> = {};

  const nxPexBuild = async (dir: string, script: string, out: string, extra: string[] = []) =>
    ok(`nx-pex build --project ${dir} -c ${script}`, await run(process.execPath, [NX_PEX, 'build', '--project', join(ws, dir), '-c', script, ...index, '-o', out, ...extra], { cwd: ws, env }));

  beforeAll(async () => {
    requireBuiltCli();
    scratch = await mkdtemp(join(tmpdir(), 'nx-pex-first-party-'));
    ws = join(scratch, 'ws');
    await cp(FIXTURE, ws, { recursive: true });
    server = await startIndexServer({ dir: INDEX_DIR });
    // Only the local index: pip's configuration is off and any other host meets a closed port.
    env = {
      ...process.env,
      PIP_CONFIG_FILE: '/dev/null',
      PIP_INDEX_URL: server.url,
      PIP_EXTRA_INDEX_URL: '',
      PIP_FIND_LINKS: '',
      PIP_NO_INPUT: '1',
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      http_proxy: 'http://127.0.0.1:9',
      https_proxy: 'http://127.0.0.1:9',
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
      PEX_ROOT: join(scratch, 'pex-root'),
      NX_PEX_STORE: join(scratch, 'store'),
      UV_CACHE_DIR: join(scratch, 'uv-cache'),
      UV_PYTHON_DOWNLOADS: 'never',
    };
    index = ['--no-pypi', '--index-url', server.url];
    ok('uv lock', await run(uvBinary()!, ['lock', '--default-index', server.url], { cwd: ws, env }));
    await mkdir(join(scratch, 'pex'));
    await mkdir(join(scratch, 'nx-pex'));
    await mkdir(join(scratch, 'wheel'));
    await mkdir(join(scratch, 'layouts'));
    for (const s of SCRIPTS) {
      const exported = ok(`uv export --package ${s.project}`, await run(uvBinary()!, ['export', '--package', s.project, '--no-hashes', '--no-editable', '--frozen', '--no-header'], { cwd: ws, env }));
      await writeFile(join(ws, `requirements-${s.project}.txt`), exported.stdout);
    }
    // pex runs pip in a Python process per build: one at a time (two cores, shared).
    for (const s of SCRIPTS) {
      ok(`pex -r ${s.project}.txt -c ${s.script}`, await run(pexBinary()!, ['-r', join(ws, `requirements-${s.project}.txt`), '-c', s.script, ...PEX_PIP, ...index, '-o', join(scratch, 'pex', `${s.script}.pex`)], { cwd: ws, env }));
      nxPexLogs[s.script] = (await nxPexBuild(s.dir, s.script, join(scratch, 'nx-pex', `${s.script}.pex`))).stderr;
    }
  });

  afterAll(async () => {
    await server?.close();
    if (scratch && !process.env.KEEP_SCRATCH) await rm(scratch, { recursive: true, force: true });
  });

  it.each(SCRIPTS.map((s) => [s.script, s] as const))('%s prints under nx-pex what it prints under pex', async (_name, s) => {
    const [mine, theirs] = await Promise.all([
      run('python3', [join(scratch, 'nx-pex', `${s.script}.pex`)], { cwd: scratch, env }),
      run('python3', [join(scratch, 'pex', `${s.script}.pex`)], { cwd: scratch, env }),
    ]);
    ok(`pex's ${s.script}.pex`, theirs);
    expect({ code: mine.code, stderr: mine.code === 0 ? '' : mine.stderr }).toEqual({ code: 0, stderr: '' });
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stdout.trim().length).toBeGreaterThan(0);
  });

  it('answers what the patterns promise (versions, extras, hooks, plugins, a meta-package, a namespace package)', async () => {
    const out = ok('fp-cli', await run('python3', [join(scratch, 'nx-pex', 'fp-cli.pex')], { cwd: scratch, env })).stdout;
    expect(out.split('\n')[0]).toBe('fp-cli 1.4.0 with fp-lib 2.0.1');
    const report = JSON.parse(out.slice(out.indexOf('{')));
    const d = report.distributions;
    expect(d['fp-hooked'].version).toBe('5.0.0rc1');
    expect(d['fp-hooked'].requires).toEqual(['six>=1.15']);
    expect(d['fp-lib'].requires).toEqual(['fp-nspart;python_version>="3.8"andextra=="fancy"', 'six>=1.16;extra=="fancy"']);
    expect(d['fp-lib'].extras).toEqual(['fancy', 'unused-extra']);
    expect(d['fp-lib'].files).toEqual(['fplib/__init__.py', 'fplib/report.py']);
    expect(d['fp-meta']).toMatchObject({ version: '1.0', files: [], requires: ['fp-lib[fancy]', 'fp-plugin'] });
    expect(d['fp-nspart'].files).toEqual(['fpns/part/__init__.py']);
    expect(d['fp-flit']).toMatchObject({ version: '0.7.2', files: ['fp_flit.py'] });
    // The fields that describe a project, written from pyproject.toml as its backend writes them.
    expect(d['fp-cli']).toMatchObject({ author: 'Example Org, Inc.', 'author-email': 'Jane Doe <jane@example.org>', 'maintainer-email': 'ops@example.org', license: 'MIT', keywords: 'cli,example,metadata' });
    expect(d['fp-cli'].urls).toEqual(['Bug Tracker, https://example.org/fp/issues', 'Homepage, https://example.org/fp']);
    expect(d['fp-cli'].classifiers).toEqual(['License :: OSI Approved :: MIT License']);
    expect(d['fp-lib']).toMatchObject({ license: null, 'license-expression': 'Apache-2.0', keywords: 'shared,library' });
    // hatchling's own form of Requires-Dist (normalised names, single quotes), as from its backend.
    expect(d['fp-cli'].requires).toEqual(
      expect.arrayContaining(["six>=1.16;sys_platform!='emscripten'", "six>=1.16;(python_version>='3.8'orsys_platform=='linux')andextra=='color-out'", "fp-lib[fancy];extra=='color-out'"]),
    );
    expect(d['fp-cli']['entry-points']).toEqual(['console_scripts:fp-cli=fp_cli.main:main', 'gui_scripts:fp-cli-gui=fp_cli.main:main']);
    // fp-meta brings fp-plugin along, so its entry point is there for fp-cli too.
    expect(report['fp.plugins']).toEqual(['greet=fp_plugin.greet:hello']);
    const host = ok('fp-host', await run('python3', [join(scratch, 'nx-pex', 'fp-host.pex')], { cwd: scratch, env })).stdout;
    expect(host.split('\n')[0]).toBe('plugin greet: hello from fp-plugin');
  });

  it('finds the dist-info in the packed and loose layouts and in a PEX_TOOLS venv too', async () => {
    const expected = ok('fp-cli', await run('python3', [join(scratch, 'nx-pex', 'fp-cli.pex')], { cwd: scratch, env })).stdout;
    for (const layout of ['packed', 'loose']) {
      const out = join(scratch, 'layouts', layout);
      await nxPexBuild('cli', 'fp-cli', out, ['--layout', layout]);
      const ran = ok(`fp-cli (${layout})`, await run('python3', [out], { cwd: scratch, env }));
      expect({ layout, out: ran.stdout }).toEqual({ layout, out: expected });
    }
    const tools = join(scratch, 'layouts', 'tools.pex');
    await nxPexBuild('cli', 'fp-cli', tools, ['--include-tools']);
    const venv = join(scratch, 'layouts', 'venv');
    ok('PEX_TOOLS=1 venv', await run('python3', [tools, 'venv', venv], { cwd: scratch, env: { ...env, PEX_TOOLS: '1' } }));
    // The venv's `pex` runs the PEX's entry point with the venv's interpreter.
    const ran = ok('fp-cli (venv)', await run(join(venv, 'pex'), [], { cwd: scratch, env }));
    expect(ran.stdout).toBe(expected);
  });

  it('gives the same importlib.metadata answers with first-party = "wheel" (each project built by its backend, as pex does)', async () => {
    for (const s of SCRIPTS) {
      const out = join(scratch, 'wheel', `${s.script}.pex`);
      await nxPexBuild(s.dir, s.script, out, ['--first-party', 'wheel']);
      const [wheelForm, sourcesForm] = await Promise.all([
        run('python3', [out], { cwd: scratch, env }),
        run('python3', [join(scratch, 'nx-pex', `${s.script}.pex`)], { cwd: scratch, env }),
      ]);
      ok(`${s.script} (first-party wheel)`, wheelForm);
      expect({ script: s.script, out: wheelForm.stdout }).toEqual({ script: s.script, out: sourcesForm.stdout });
    }
  });

  it('runs a build backend only for projects whose metadata is dynamic, once, and not again after a source edit', async () => {
    // fp-hooked (a hatch hook, a version file) and fp-flit (version and description from the module) need their backends.
    const first = [...nxPexLogs['fp-cli']!.matchAll(BACKEND_RUN)].map((m) => m[0]);
    expect(first).toHaveLength(2);
    expect(first.join('\n')).toMatch(/hooked/);
    expect(first.join('\n')).toMatch(/flit/);
    // Later builds in the same store take both from the store.
    expect(nxPexLogs['fp-hooked']!.match(BACKEND_RUN)).toBeNull();

    // A code edit of a project with dynamic metadata: a new PEX, no backend.
    const code = join(ws, 'hooked', 'src', 'fp_hooked', '__init__.py');
    await writeFile(code, (await readFile(code, 'utf8')).replace('print(f"fp-hooked', 'print(f"edited fp-hooked'));
    const rebuilt = await nxPexBuild('hooked', 'fp-hooked', join(scratch, 'nx-pex', 'fp-hooked-edited.pex'));
    expect(rebuilt.stderr.match(BACKEND_RUN)).toBeNull();
    const ran = ok('edited fp-hooked', await run('python3', [join(scratch, 'nx-pex', 'fp-hooked-edited.pex')], { cwd: scratch, env }));
    expect(ran.stdout).toMatch(/^edited fp-hooked 5\.0\.0rc1 six /);

    // The version file and the hook are inputs: editing one asks the backend again.
    await writeFile(join(ws, 'hooked', 'src', 'fp_hooked', '__about__.py'), '__version__ = "5.0.0"\n');
    const bumped = await nxPexBuild('hooked', 'fp-hooked', join(scratch, 'nx-pex', 'fp-hooked-bumped.pex'));
    expect(bumped.stderr.match(BACKEND_RUN)).toHaveLength(1);
    const ranBumped = ok('bumped fp-hooked', await run('python3', [join(scratch, 'nx-pex', 'fp-hooked-bumped.pex')], { cwd: scratch, env }));
    expect(ranBumped.stdout).toMatch(/^edited fp-hooked 5\.0\.0 six /);
  });

  // Last: `nx sync` writes the members' pylock.toml files, which later CLI builds would then take.
  it('builds through Nx as through the CLI', async () => {
    // An Nx workspace around the fixture: this repository's npm packages (nx, and nx-pex as the workspace links it).
    await writeFile(join(ws, 'nx.json'), JSON.stringify({ plugins: ['nx-pex'] }));
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.base.json']) await cp(join(REPO, f), join(ws, f));
    await symlink(join(REPO, 'node_modules'), join(ws, 'node_modules'), 'dir');
    const nx = join(REPO, 'node_modules', '.bin', 'nx');
    const nxEnv = { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0', NO_COLOR: '1', CI: 'true' };
    ok('nx sync', await run(nx, ['sync'], { cwd: ws, env: nxEnv }));
    ok('nx build fp-host', await run(nx, ['build', 'fp-host'], { cwd: ws, env: nxEnv }));
    const [mine, theirs] = await Promise.all([
      run('python3', [join(ws, 'dist', 'host', 'fp-host.pex')], { cwd: scratch, env }),
      run('python3', [join(scratch, 'pex', 'fp-host.pex')], { cwd: scratch, env }),
    ]);
    ok('fp-host built by nx', mine);
    expect(mine.stdout).toBe(theirs.stdout);
  });
});
