/**
 * Foreign platforms fail fast: an sdist is never built (or even downloaded) for a target whose
 * tags this machine's interpreter cannot produce; the build stops naming the newest version with
 * a wheel for the target and how to pin it. Where the interpreter fits the target, sdists are
 * still built. And a whole pylock with a `directory` entry writes each requirement once.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '@nx-pex/testkit';
import { startIndexServer, writeFixtureWheel, type IndexServer } from '@nx-pex/index-server';
import { exec, REPO, requireBuiltCli, runCli } from './support';

jest.setTimeout(300_000);

const PARITY = join(REPO, '.cache', 'parity-index');

describeWith(['pip', 'linux-x64'], 'foreign platforms', () => {
  let scratch: string;
  let server: IndexServer;
  let here: string;
  let foreign: string;
  let junkSdist: { filename: string; sha256: string };

  beforeAll(async () => {
    requireBuiltCli();
    scratch = await mkdtemp(join(tmpdir(), 'nx-pex-foreign-'));
    const files = join(scratch, 'files');
    await mkdir(files);
    // native 1.0 has a pure wheel; native 2.0 only an sdist that no build could make anything of.
    await writeFixtureWheel(files, { name: 'native', version: '1.0', files: { 'native/__init__.py': 'V = 1\n' } });
    const junk = Buffer.from('not an sdist at all');
    await writeFile(join(files, 'native-2.0.tar.gz'), junk);
    junkSdist = { filename: 'native-2.0.tar.gz', sha256: createHash('sha256').update(junk).digest('hex') };
    for (const f of ['docopt-0.6.2.tar.gz', 'setuptools-80.9.0-py3-none-any.whl', 'wheel-0.37.1-py2.py3-none-any.whl']) await copyFile(join(PARITY, f), join(files, f));
    await copyFile(join(REPO, '.cache', 'parity-index', 'click-8.5.1-py3-none-any.whl'), join(files, 'click-8.5.1-py3-none-any.whl'));
    await copyFile(join(REPO, '.cache', 'wheels', 'pex-2.105.2-py2.py35.py36.py37.py38.py39.py310.py311-none-any.whl'), join(files, 'pex-2.105.2-py2.py35.py36.py37.py38.py39.py310.py311-none-any.whl'));
    server = await startIndexServer({ dir: files });
    const minor = Number(execFileSync('python3', ['-c', 'import sys; print(sys.version_info[1])'], { encoding: 'utf8' }).trim());
    here = `linux_x86_64-cp-3${minor}-cp3${minor}`;
    const other = minor === 12 ? 11 : 12;
    foreign = `manylinux2014_x86_64-cp-3${other}-cp3${other}`;
  });

  afterAll(async () => {
    await server?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const cli = (args: string[], cwd?: string) =>
    runCli(['build', '--no-pypi', '--index-url', server.url, '--store', join(scratch, 'store'), ...args], { cwd, env: { PIP_INDEX_URL: server.url } });

  it('resolution stops before building an sdist for another Python version, naming the newest version with a wheel and the pin', async () => {
    const r = await cli(['--platform', foreign, 'native', '-o', join(scratch, 'native.pex')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`native 2.0 has no wheel for target ${foreign}, only the sdist native-2.0.tar.gz, and it is not built: python3 (Python 3.`);
    expect(r.stderr).toContain(`The newest native with a wheel for ${foreign} is 1.0: pin it, e.g. add "native==1.0" to the requirements`);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/Building a wheel from/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // The pin works.
    const pinned = await cli(['--platform', foreign, 'native==1.0', '-o', join(scratch, 'native.pex')]);
    expect(pinned.code).toBe(0);
  });

  it('an aarch64 target among the targets stops the build too', async () => {
    const r = await cli(['--platform', here, '--platform', 'manylinux2014_aarch64-cp-312-cp312', 'native', '-o', join(scratch, 'native2.pex')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('native 2.0 has no wheel for target manylinux2014_aarch64-cp-312-cp312');
  });

  it('a locked sdist for a foreign target stops before it is downloaded, at the lock line', async () => {
    const dir = join(scratch, 'locked');
    await mkdir(dir);
    await writeFile(
      join(dir, 'pylock.toml'),
      `lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "native"\nversion = "2.0"\nsdist = { url = "${server.url.replace(/simple\/?$/, '')}files/native-2.0.tar.gz", hashes = { sha256 = "${junkSdist.sha256}" } }\n`,
    );
    const r = await cli(['--lock', 'pylock.toml', '--platform', foreign, '-o', join(dir, 'x.pex')], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`pylock.toml:4: native 2.0 has no wheel for target ${foreign}, only the sdist native-2.0.tar.gz, and it is not built`);
    expect(r.stderr).toContain('The newest native with a wheel');
    expect(r.stderr).not.toMatch(/Downloaded|Building a wheel/);
  });

  it('where this machine\'s interpreter fits the platform, the sdist is still built', async () => {
    const out = join(scratch, 'docopt.pex');
    const r = await cli(['--platform', here, 'docopt==0.6.2', '-o', out]);
    expect(r.stderr).toContain('Building a wheel from docopt-0.6.2.tar.gz');
    expect(r.code).toBe(0);
    const { stdout } = await exec('python3', [out, '-c', 'import docopt; print(docopt.__version__)']);
    expect(stdout.trim()).toBe('0.6.2');
  });

  it('a whole pylock with a directory entry: PEX-INFO requirements name each project once, as its project declares it', async () => {
    const dir = join(scratch, 'pl');
    await mkdir(join(dir, 'app', 'src', 'app'), { recursive: true });
    await writeFile(join(dir, 'app', 'pyproject.toml'), '[project]\nname = "app"\nversion = "0.1"\ndependencies = ["click"]\n');
    await writeFile(join(dir, 'app', 'src', 'app', '__init__.py'), '');
    const click = await readFile(join(PARITY, 'click-8.5.1-py3-none-any.whl'));
    const sha = createHash('sha256').update(click).digest('hex');
    const lockText = (deps: boolean) =>
      `lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "app"\nversion = "0.1"\ndirectory = { path = "app" }\n${deps ? 'dependencies = [{ name = "click" }]\n' : ''}` +
      `\n[[packages]]\nname = "click"\nversion = "8.5.1"\nwheels = [{ url = "${server.url.replace(/simple\/?$/, '')}files/click-8.5.1-py3-none-any.whl", hashes = { sha256 = "${sha}" } }]\n`;
    for (const deps of [true, false]) {
      await writeFile(join(dir, 'pylock.toml'), lockText(deps));
      const out = join(dir, `app-${deps}.pex`);
      const r = await cli(['--lock', 'pylock.toml', '-o', out], dir);
      expect(r.code).toBe(0);
      const { stdout } = await exec('unzip', ['-p', out, 'PEX-INFO']);
      expect(JSON.parse(stdout).requirements).toEqual(['click']);
    }
  });
});
