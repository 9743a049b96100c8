/**
 * Credentials for a private index, given in the index URL, in a netrc file, or as uv's
 * UV_INDEX_<NAME>_PASSWORD for a [[tool.uv.index]]: builds with the compiled CLI succeed, and the
 * secret appears nowhere: not in any output, the PEX (raw or any entry), the store or the output dir.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';
import { copyPinnedPex, exec, listFiles as walk, projectToml, requireBuiltCli, runCli, uvLockText, writeWorkspace, type CliResult as Result } from './support';

jest.setTimeout(180_000);

const USER = 'deploy-bot';
const SECRET = 'Zq9-very-secret-Pw';
/** Every form the secret could leak in: plain, URL-encoded userinfo, and the Basic header value. */
const FORMS = [SECRET, encodeURIComponent(SECRET), Buffer.from(`${USER}:${SECRET}`).toString('base64')];

let scratch: string;
let server: IndexServer;
let wheel: FixtureFile;

const cli = (args: string[], env: NodeJS.ProcessEnv): Promise<Result> =>
  runCli(args, { env: { NETRC: join(scratch, 'no-netrc'), HOME: scratch, CI: '1', ...env } });

const workspace = (name: string, rootPyproject = ''): Promise<string> =>
  writeWorkspace(join(scratch, name), {
    pyproject: projectToml('app', ['privlib']),
    sources: { 'main.py': 'import privlib\n\ndef main():\n    print("private", privlib.__version__)\n' },
    rootPyproject,
    lock: uvLockText({ dependencies: ['privlib'], registry: server.url, wheels: [{ name: 'privlib', file: wheel }] }),
  });

/** Fails naming where the secret was found: outputs, files (raw bytes) and every PEX entry (decompressed). */
function expectNoSecret(outputs: string[], dirs: string[]): void {
  const leaks: string[] = [];
  outputs.forEach((o, i) => FORMS.forEach((f) => o.includes(f) && leaks.push(`output #${i}`)));
  for (const file of dirs.flatMap(walk)) {
    const bytes = readFileSync(file);
    if (FORMS.some((f) => bytes.includes(f))) leaks.push(file);
    if (file.endsWith('.pex')) {
      const found = execFileSync(
        'python3',
        ['-c', 'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint("\\n".join(n for n in z.namelist() if any(f.encode() in z.read(n) for f in sys.argv[2:])))', file, ...FORMS],
        { encoding: 'utf8' },
      ).trim();
      if (found) leaks.push(`${file}: ${found}`);
      const names = execFileSync('python3', ['-c', 'import sys, zipfile\nprint(len(zipfile.ZipFile(sys.argv[1]).namelist()))', file], { encoding: 'utf8' });
      expect(Number(names)).toBeGreaterThan(3); // the PEX was really read
    }
  }
  expect(leaks).toEqual([]);
}

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-creds-'));
  const wheels = join(scratch, 'wheels');
  wheel = await writeFixtureWheel(wheels, { name: 'privlib', version: '1.0' });
  await copyPinnedPex(wheels);
  server = await startIndexServer({ dir: wheels, basicAuth: { username: USER, password: SECRET } });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const withCreds = (password: string) => server.url.replace('http://', `http://${USER}:${encodeURIComponent(password)}@`);

async function buildAndCheck(name: string, env: NodeJS.ProcessEnv, rootPyproject = ''): Promise<void> {
  const ws = await workspace(name, rootPyproject);
  const store = join(scratch, `store-${name}`);
  const out = join(ws, 'dist');
  const built = await cli(['build', '--project', join(ws, 'app'), '--output-dir', out, '--store', store], env);
  expect(built.stderr).toContain('app: wrote');
  expect(built.code).toBe(0);
  const ran = await exec(join(out, 'app.pex'), [], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
  expect(ran.stdout.trim()).toBe('private 1.0');
  const info = await cli(['cache', 'info', '--store', store], env);
  // A failing build with the same credentials source must not leak either.
  server.faults.set(`/files/${wheel.filename}`, { kind: 'status', status: 500 });
  const failed = await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist2'), '--store', join(store, 'fresh')], env);
  server.faults.clear();
  expect(failed.code).toBe(1);
  expect(failed.stderr).toContain(`${server.url.replace('/simple', '/files/')}${wheel.filename}`);
  expectNoSecret([built.stdout, built.stderr, ran.stdout, ran.stderr, info.stdout, info.stderr, failed.stdout, failed.stderr], [store, out, join(ws, 'dist2')]);
}

it('credentials in PIP_INDEX_URL', async () => {
  await buildAndCheck('url', { PIP_INDEX_URL: withCreds(SECRET) });
});

it('credentials in a netrc file (NETRC)', async () => {
  const netrc = join(scratch, 'netrc-file');
  await writeFile(netrc, `machine 127.0.0.1\n  login ${USER}\n  password ${SECRET}\n`);
  await buildAndCheck('netrc', { PIP_INDEX_URL: server.url, NETRC: netrc });
});

it('credentials from UV_INDEX_<NAME>_USERNAME / _PASSWORD for a [[tool.uv.index]]', async () => {
  const root = `[tool.uv.workspace]\nmembers = ["app"]\n\n[[tool.uv.index]]\nname = "corp-private"\nurl = "${server.url}"\ndefault = true\n`;
  await buildAndCheck('uv', { PIP_INDEX_URL: '', UV_INDEX_CORP_PRIVATE_USERNAME: USER, UV_INDEX_CORP_PRIVATE_PASSWORD: SECRET }, root);
});

it('wrong credentials: one clear message without the secret', async () => {
  const ws = await workspace('wrong');
  const wrong = `${SECRET}-wrong`;
  const r = await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), '--store', join(scratch, 'store-wrong')], {
    PIP_INDEX_URL: withCreds(wrong),
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/HTTP 401: the index refused the credentials/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  for (const s of [wrong, SECRET]) expect(r.stdout + r.stderr).not.toContain(s);
});
