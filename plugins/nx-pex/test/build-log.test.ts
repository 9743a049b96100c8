/**
 * What a build prints, as Nx caches and replays it in other clones: paths relative to where it
 * runs, one download summary, and the runtime named as copied from the package when it was.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PINNED_PEX } from '@nx-pex/pex';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { REPO, requireBuiltCli, runCli } from './support';

jest.setTimeout(120_000);

const PARITY = join(REPO, '.cache', 'wheels');
const WHEELS = ['click-8.5.1-py3-none-any.whl', 'six-1.17.0-py2.py3-none-any.whl'];

let scratch: string;
let server: IndexServer;

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-log-'));
  await mkdir(join(scratch, 'files'));
  for (const w of WHEELS) await copyFile(join(PARITY, w), join(scratch, 'files', w));
  server = await startIndexServer({ dir: join(scratch, 'files') });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it('a build from a lock logs relative paths, one download summary, and the runtime copied from the package', async () => {
  const ws = join(scratch, 'ws');
  await mkdir(join(ws, 'locks'), { recursive: true });
  const files = server.url.replace(/simple\/?$/, 'files/');
  const entries = await Promise.all(
    WHEELS.map(async (w) => {
      const [name, version] = w.split('-');
      const sha = createHash('sha256').update(await readFile(join(PARITY, w))).digest('hex');
      return `[[packages]]\nname = "${name}"\nversion = "${version}"\nwheels = [{ url = "${files}${w}", hashes = { sha256 = "${sha}" } }]\n`;
    }),
  );
  await writeFile(join(ws, 'locks', 'pylock.toml'), `lock-version = "1.0"\ncreated-by = "test"\n\n${entries.join('\n')}`);
  const r = await runCli(['build', '--lock', 'locks/pylock.toml', '--store', join(scratch, 'store'), '-o', 'dist/app.pex'], { cwd: ws });
  expect(r.code).toBe(0);
  const log = r.stdout + r.stderr;
  expect(log).toContain('lock locks/pylock.toml');
  expect(log).toContain('wrote dist/app.pex');
  expect(log).not.toContain(ws);
  expect(log.match(/^Downloaded \d+ of \d+ files/gm)).toEqual(['Downloaded 2 of 2 files']);
  expect(log).toContain(`Copied ${PINNED_PEX.filename} from the nx-pex package`);
  expect(log).not.toContain(`Downloaded ${PINNED_PEX.filename}`);
});
