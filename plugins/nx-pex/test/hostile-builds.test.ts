/**
 * Builds under bad luck, through the CLI: store wheels damaged after they entered the store,
 * builds killed (SIGKILL) or interrupted (SIGINT, SIGTERM) while they write the PEX.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import yauzl from 'yauzl';
import { writeFixtureWheel, type FixtureFile } from '@nx-pex/index-server';
import { CLI, cliEnv, copyPinnedPex, exec, projectToml, requireBuiltCli, runCli, uvLockText, writeWorkspace } from './support';

jest.setTimeout(180_000);

let scratch: string;
let wheels: string;
let small: FixtureFile;
let big: FixtureFile;

const env = (): NodeJS.ProcessEnv => ({ PIP_FIND_LINKS: wheels, PIP_NO_INDEX: '1', NX_PEX_OFFLINE: '' });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const nameOf = (f: FixtureFile): string => f.filename.split('-')[0]!;

async function workspace(name: string, files: FixtureFile[]): Promise<string> {
  const names = files.map(nameOf);
  return writeWorkspace(join(scratch, name), {
    pyproject: projectToml('app', names),
    sources: { 'main.py': 'import smallpkg\n\ndef main():\n    print("ok", smallpkg.__version__)\n' },
    lock: uvLockText({ dependencies: names, registry: 'https://pypi.org/simple', wheels: files.map((file) => ({ name: nameOf(file), file })) }),
  });
}

/** The bytes of `.deps/<filename>` inside a zipapp PEX. */
function depInPex(pex: string, filename: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    yauzl.open(pex, { lazyEntries: true }, (err, zf) => {
      if (err || !zf) return reject(err);
      zf.on('entry', (e: yauzl.Entry) => {
        if (e.fileName !== `.deps/${filename}`) return zf.readEntry();
        zf.openReadStream(e, (e2, s) => {
          if (e2 || !s) return reject(e2);
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => chunks.push(c));
          s.on('end', () => {
            zf.close();
            resolve(Buffer.concat(chunks));
          });
        });
      });
      zf.on('end', () => reject(new Error(`no .deps/${filename}`)));
      zf.readEntry();
    });
  });
}

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-hostile-'));
  wheels = join(scratch, 'wheels');
  small = await writeFixtureWheel(wheels, { name: 'smallpkg', version: '1.0' });
  big = await writeFixtureWheel(wheels, { name: 'bigpkg', version: '1.0', padBytes: 60_000_000 });
  await copyPinnedPex(wheels);
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('a store wheel damaged after it entered the store', () => {
  it.each(['truncated', 'flipped'] as const)('(%s) is fetched again and the PEX holds the locked bytes; offline, the build names it', async (how) => {
    const ws = await workspace(`damaged-${how}`, [small]);
    const store = join(scratch, `store-${how}`);
    const out = join(ws, 'dist', 'app.pex');
    const args = ['build', '--project', join(ws, 'app'), '-o', out, '--store', store];
    expect((await runCli(args, { env: env() })).code).toBe(0);
    const stored = join(store, 'wheels', 'sha256', small.sha256.slice(0, 2), small.sha256);
    const damage = async () => {
      await chmod(stored, 0o644);
      if (how === 'truncated') await truncate(stored, Math.floor(small.size / 2));
      else {
        const b = await readFile(stored);
        b[Math.floor(b.length / 2)] = b[Math.floor(b.length / 2)]! ^ 0x01;
        await writeFile(stored, b);
      }
    };
    await damage();
    // Online, it is fetched again.
    const res = await runCli(args, { env: env() });
    expect(res.stderr).toMatch(/was damaged .*fetching it again/);
    expect(res.code).toBe(0);
    expect(sha(await depInPex(out, small.filename))).toBe(small.sha256);
    expect(sha(readFileSync(stored))).toBe(small.sha256);
    // Offline, a damaged file cannot be replaced: one message naming it and the repair.
    await damage();
    const offline = await runCli([...args, '--offline'], { env: env() });
    expect(offline.code).toBe(1);
    expect(offline.stderr).toContain(small.filename);
    expect(offline.stderr).toMatch(/is damaged.*Build once online/s);
    expect(offline.stderr).not.toMatch(/^\s+at /m);
    const { stdout } = await exec(out, [], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
    expect(stdout.trim()).toBe('ok 1.0');
  });
});

describe('a build stopped while it writes the PEX', () => {
  const tempIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.endsWith('.old')) : []);

  /** Starts a build and stops it with `signal` as soon as its temporary output exists. */
  async function stopWhileWriting(ws: string, store: string, out: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; sawTemp: boolean }> {
    const outputs = join(store, 'tmp', 'outputs');
    const child = spawn(process.execPath, [CLI, 'build', '--project', join(ws, 'app'), '-o', out, '--store', store], {
      env: cliEnv(env()),
      stdio: 'ignore',
    });
    let sawTemp = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, sig) => r({ code, signal: sig })));
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      // Wherever the build keeps it (earlier versions wrote it inside the output directory).
      if (tempIn(outputs).length > 0 || tempIn(dirname(out)).length > 0) {
        sawTemp = true;
        child.kill(signal);
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return { ...(await exited), sawTemp };
  }

  it.each(['SIGKILL', 'SIGINT', 'SIGTERM'] as const)('(%s) leaves no temporary file among the outputs, and the next build leaves none anywhere', async (signal) => {
    const ws = await workspace(`killed-${signal}`, [small, big]);
    const store = join(scratch, 'store-kill');
    const outDir = join(ws, 'dist', 'app');
    const out = join(outDir, 'app.pex');
    // Fill the store first, so that the run below is stopped while it writes.
    expect((await runCli(['build', '--project', join(ws, 'app'), '-o', join(scratch, `warm-${signal}.pex`), '--store', store], { env: env() })).code).toBe(0);
    let stopped;
    for (let attempt = 0; attempt < 5; attempt++) {
      stopped = await stopWhileWriting(ws, store, out, signal);
      if (stopped.sawTemp) break;
    }
    expect(stopped!.sawTemp).toBe(true);
    expect(stopped!.signal).toBe(signal);
    // What Nx would cache (the output directory) holds no temporary file, nor a partial PEX.
    expect(tempIn(outDir)).toEqual([]);
    expect(existsSync(out)).toBe(false);
    const outputs = join(store, 'tmp', 'outputs');
    // An interrupted build removes its own temporary file; a killed one's is swept by the next build.
    if (signal !== 'SIGKILL') expect(tempIn(outputs)).toEqual([]);
    const res = await runCli(['build', '--project', join(ws, 'app'), '-o', out, '--store', store], { env: env() });
    expect(res.code).toBe(0);
    expect(tempIn(outputs)).toEqual([]);
    expect(tempIn(outDir)).toEqual([]);
  });

  it('sweeps what earlier versions left in the output directory', async () => {
    const ws = await workspace('legacy', [small]);
    const outDir = join(ws, 'dist', 'app');
    const out = join(outDir, 'app.pex');
    const store = join(scratch, 'store-legacy');
    expect((await runCli(['build', '--project', join(ws, 'app'), '-o', out, '--store', store], { env: env() })).code).toBe(0);
    await writeFile(join(outDir, '.app.pex.0123456789ab.tmp'), 'left by a killed build');
    expect((await runCli(['build', '--project', join(ws, 'app'), '-o', out, '--store', store], { env: env() })).code).toBe(0);
    expect(readdirSync(outDir)).toEqual(['app.pex']);
  });
});
