/**
 * A test run checks the project's generated pylock.test.toml against the uv.lock it came from;
 * the store records a check that passed, so that the next run with the same two files does not
 * parse the whole uv.lock again, while any change of either file is checked anew.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTestLock } from '@nx-pex/engine';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');

let dir: string;
let store: string;
let greeting: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nx-pex-lock-check-'));
  store = join(dir, 'store');
  await cp(EXAMPLES, join(dir, 'examples'), { recursive: true, filter: (s) => !/__pycache__|\.pytest_cache/.test(s) });
  greeting = join(dir, 'examples', 'libs', 'greeting');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = () => openTestLock({ projectDir: greeting, project: 'greeting', storeDir: store });

it('parses the uv.lock for the first check only, while neither file changes', async () => {
  const first = await open();
  expect(first.uvLock).toBeDefined();
  expect(await readdir(join(store, 'lock-checks'))).toHaveLength(1);
  const second = await open();
  expect(second.uvLock).toBeUndefined();
  expect(second.pylock.packages.map((p) => p.name)).toEqual(first.pylock.packages.map((p) => p.name));
  expect(second.groups).toEqual(['test']);
});

it('checks anew when either file changes: a stale test lock is refused whatever was recorded before', async () => {
  await open();
  const uvLock = join(dir, 'examples', 'uv.lock');
  await writeFile(uvLock, `${await readFile(uvLock, 'utf8')}\n# a change elsewhere in the workspace's lock\n`);
  expect((await open()).uvLock).toBeDefined();
  expect(await readdir(join(store, 'lock-checks'))).toHaveLength(2);
  const testLock = join(greeting, 'pylock.test.toml');
  await writeFile(testLock, (await readFile(testLock, 'utf8')).replace('version = "9.2.0"', 'version = "9.1.0"'));
  await expect(open()).rejects.toThrow(/pylock\.test\.toml is out of date: .*Run `nx sync`/);
  expect(await readdir(join(store, 'lock-checks'))).toHaveLength(2);
});
