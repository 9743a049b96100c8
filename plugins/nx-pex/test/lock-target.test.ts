/**
 * A service that no uv.lock, poetry.lock or requirements file governs: the plugin infers a `lock`
 * target for it, its build says how to get a lock, `nx run <project>:lock` writes its pylock.toml
 * from the indexes pip is configured with, and `nx build` then builds from that lock (cached).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IndexServer } from '@nx-pex/index-server';
import { makeWorkspace, NX, nxOutcome, sh, startWorkspaceIndex } from './workspace-support';

const run = promisify(execFile);
jest.setTimeout(300_000);

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;
let ws: string;

beforeAll(async () => {
  ({ server, scratch, env } = await startWorkspaceIndex('nx-pex-lock-target-', 'six-'));
  ws = await makeWorkspace(join(scratch, 'ws'));
  const nxJson = JSON.parse(await readFile(join(ws, 'nx.json'), 'utf8'));
  nxJson.plugins = [{ plugin: 'nx-pex', include: ['examples/**', 'apps/**'] }];
  await writeFile(join(ws, 'nx.json'), JSON.stringify(nxJson, null, 2));
  const app = join(ws, 'apps', 'unlocked');
  await mkdir(join(app, 'src', 'unlocked_app'), { recursive: true });
  await writeFile(
    join(app, 'pyproject.toml'),
    '[project]\nname = "unlocked"\nversion = "0.1.0"\nrequires-python = ">=3.8"\ndependencies = ["six>=1.16"]\n\n' +
      '[project.scripts]\nhello = "unlocked_app:main"\n\n[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
  );
  await writeFile(join(app, 'src', 'unlocked_app', '__init__.py'), 'import six\n\n\ndef main():\n    print(f"hello from six {six.__version__}")\n');
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it('infers a lock target only where no other lock governs', async () => {
  const unlocked = JSON.parse(await sh(ws, NX, ['show', 'project', 'unlocked', '--json'], env));
  expect(unlocked.targets.lock).toMatchObject({ executor: 'nx-pex:lock', cache: false });
  const serviceA = JSON.parse(await sh(ws, NX, ['show', 'project', 'service-a', '--json'], env));
  expect(serviceA.targets.lock).toBeUndefined();
});

it('a build without a lock says how to write one; nx run <project>:lock writes it and the build takes it', async () => {
  const before = await nxOutcome(ws, ['build', 'unlocked', '--skip-nx-cache'], env);
  expect(before.ok).toBe(false);
  expect(before.log).toMatch(/No lock found for unlocked: .*`nx run unlocked:lock`/);

  const locked = await nxOutcome(ws, ['run', 'unlocked:lock'], env);
  expect(locked.log).toMatch(/wrote apps\/unlocked\/pylock\.toml: 1 packages/);
  expect(locked.ok).toBe(true);
  const { parse } = await import('smol-toml');
  const lock = parse(await readFile(join(ws, 'apps', 'unlocked', 'pylock.toml'), 'utf8')) as { packages: { name: string; version: string; wheels: { url: string }[] }[] };
  expect(lock.packages.map((p) => `${p.name}==${p.version}`)).toEqual(['six==1.17.0']);
  expect(lock.packages[0]!.wheels[0]!.url).toContain(server.url.replace(/\/simple$/, ''));

  const built = await nxOutcome(ws, ['build', 'unlocked'], env);
  expect(built.ok).toBe(true);
  expect(built.log).not.toMatch(/resolving/);
  const { stdout } = await run(join(ws, 'dist', 'apps', 'unlocked', 'hello.pex'), [], { env });
  expect(stdout.trim()).toBe('hello from six 1.17.0');
  const again = await nxOutcome(ws, ['build', 'unlocked'], env);
  expect(again.log).toMatch(/local cache|existing outputs match the cache/);
});
