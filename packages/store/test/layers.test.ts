/**
 * Layers in the store: written once per key (also when builds of one key race), atomically,
 * read-only; linked into an output by hard links (symlinks and directories made anew); counted,
 * and pruned like wheels, never while a running build holds them.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureLayer, layerInfo, layerPath, linkFromStore, pruneLayers, WheelStore } from '@nx-pex/store';

const key = (s: string) => createHash('sha256').update(s).digest('hex');
const DAY = 86_400_000;

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'store-layers-'));
});
afterEach(async () => {
  // Layer files are read-only; their directories are not, so rm works.
  await fs.rm(tmp, { recursive: true, force: true });
});

async function fill(dir: string, text: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'deps.pex', '.deps'), { recursive: true });
  await fs.writeFile(path.join(dir, 'deps.pex', '__main__.py'), text, { mode: 0o755 });
  await fs.writeFile(path.join(dir, 'deps.pex', '.deps', 'a-1.0-py3-none-any.whl'), 'wheel bytes');
  await fs.symlink('__main__.py', path.join(dir, 'deps.pex', 'pex'));
}

it('writes a layer once per key, even when builds race, and reuses it after', async () => {
  const store = new WheelStore(path.join(tmp, 'store'));
  const k = key('closure');
  let writes = 0;
  const write = async (dir: string) => {
    writes++;
    await new Promise((r) => setTimeout(r, 50));
    await fill(dir, 'print(1)\n');
  };
  const results = await Promise.all([0, 1, 2].map(() => ensureLayer(new WheelStore(path.join(tmp, 'store')), k, write)));
  expect(writes).toBe(1);
  expect(results.filter((r) => !r.reused)).toHaveLength(1);
  expect(new Set(results.map((r) => r.path))).toEqual(new Set([layerPath(store, k)]));
  const again = await ensureLayer(store, k, write);
  expect(again).toEqual({ path: layerPath(store, k), reused: true });
  expect(writes).toBe(1);
  const main = await fs.stat(path.join(again.path, 'deps.pex', '__main__.py'));
  expect(main.mode & 0o777).toBe(0o555);
  expect((await fs.stat(path.join(again.path, 'deps.pex', '.deps', 'a-1.0-py3-none-any.whl'))).mode & 0o777).toBe(0o444);
  expect(await fs.readdir(path.join(tmp, 'store', 'tmp'))).toEqual([]);
  await store.release();
});

it('leaves nothing at the key when the writer fails', async () => {
  const store = new WheelStore(path.join(tmp, 'store'));
  const k = key('broken');
  await expect(
    ensureLayer(store, k, async (dir) => {
      await fill(dir, 'x');
      throw new Error('disk full');
    }),
  ).rejects.toThrow('disk full');
  await expect(fs.stat(layerPath(store, k))).rejects.toThrow();
  expect(await fs.readdir(path.join(tmp, 'store', 'tmp'))).toEqual([]);
  const ok = await ensureLayer(store, k, (dir) => fill(dir, 'y'));
  expect(ok.reused).toBe(false);
  await store.release();
});

it('links a layer into an output: hard links to read-only files, directories and symlinks made anew', async () => {
  const store = new WheelStore(path.join(tmp, 'store'));
  const { path: layer } = await ensureLayer(store, key('links'), (dir) => fill(dir, 'print(2)\n'));
  const dest = path.join(tmp, 'dist', 'deps.pex');
  await fs.mkdir(path.dirname(dest));
  const r = await linkFromStore(path.join(layer, 'deps.pex'), dest);
  expect(r).toEqual({ linked: 2, copied: 0, copiedBytes: 0 });
  const [a, b] = await Promise.all([fs.stat(path.join(dest, '__main__.py')), fs.stat(path.join(layer, 'deps.pex', '__main__.py'))]);
  expect(a.ino).toBe(b.ino);
  expect(a.mode & 0o222).toBe(0);
  expect(await fs.readlink(path.join(dest, 'pex'))).toBe('__main__.py');
  expect((await fs.lstat(path.join(dest, '.deps'))).ino).not.toBe((await fs.lstat(path.join(layer, 'deps.pex', '.deps'))).ino);
  await store.release();
});

it('counts layers and prunes them by age and size, keeping those a running build holds', async () => {
  const root = path.join(tmp, 'store');
  const writer = new WheelStore(root);
  const keys = ['one', 'two', 'three'].map(key);
  for (const [i, k] of keys.entries()) {
    const { path: p } = await ensureLayer(writer, k, (dir) => fill(dir, 'x'.repeat(100 * (i + 1))));
    const when = new Date(Date.now() - (10 - i) * DAY);
    await fs.utimes(p, when, when);
  }
  await writer.release();
  const info = await layerInfo(new WheelStore(root));
  expect(info).toEqual({ layers: 3, bytes: 100 + 200 + 300 + 3 * 'wheel bytes'.length, inUse: 0 });

  // A running build holds the oldest layer.
  const holder = new WheelStore(root);
  const held = await ensureLayer(holder, keys[0]!, () => Promise.reject(new Error('not written again')));
  // Taking it counted as a use; make it the oldest again.
  expect(Date.now() - (await fs.stat(held.path)).mtimeMs).toBeLessThan(DAY);
  await fs.utimes(held.path, new Date(Date.now() - 10 * DAY), new Date(Date.now() - 10 * DAY));
  const dry = await pruneLayers(new WheelStore(root), { olderThanMs: 8.5 * DAY, dryRun: true });
  expect(dry.removed.map((r) => r.key)).toEqual([keys[1]]);
  expect(dry.skippedInUse).toBe(1);
  expect((await layerInfo(new WheelStore(root))).layers).toBe(3);

  const bySize = await pruneLayers(new WheelStore(root), { maxBytes: 450 });
  expect(bySize.removed.map((r) => r.key)).toEqual([keys[1]]);
  expect(bySize.remainingLayers).toBe(2);
  await holder.release();
  const all = await pruneLayers(new WheelStore(root), { olderThanMs: 0 });
  expect(all.removed.map((r) => r.key).sort()).toEqual([keys[0], keys[2]].sort());
  expect(await fs.readdir(path.join(root, 'layers'))).toEqual([]);
});

describe('a damaged layer is built again, never reused', () => {
  const cases: Array<[string, (layer: string) => Promise<void>]> = [
    ['a byte flipped in a file', async (layer) => {
      const f = path.join(layer, 'deps.pex', '.deps', 'a-1.0-py3-none-any.whl');
      const b = await fs.readFile(f);
      b[3] = b[3]! ^ 0x01;
      await fs.chmod(f, 0o644);
      await fs.writeFile(f, b);
    }],
    ['a truncated file', (layer) => fs.truncate(path.join(layer, 'deps.pex', '__main__.py'), 2)],
    ['a missing file', (layer) => fs.rm(path.join(layer, 'deps.pex', '__main__.py'))],
    ['an added file', (layer) => fs.writeFile(path.join(layer, 'deps.pex', 'extra.py'), 'import os\n')],
    ['a symlink pointing elsewhere', async (layer) => {
      await fs.rm(path.join(layer, 'deps.pex', 'pex'));
      await fs.symlink('/etc/passwd', path.join(layer, 'deps.pex', 'pex'));
    }],
    ['a missing record', (layer) => fs.rm(path.join(layer, 'RECORD.json'))],
    ['a file replaced by a FIFO', async (layer) => {
      const f = path.join(layer, 'deps.pex', '__main__.py');
      await fs.rm(f);
      require('node:child_process').execFileSync('mkfifo', [f]);
    }],
    ['an edit with the same size and mtime', async (layer) => {
      const f = path.join(layer, 'deps.pex', '__main__.py');
      const st = await fs.stat(f);
      await fs.chmod(f, 0o755);
      await fs.writeFile(f, 'print(2)\n');
      await fs.utimes(f, st.atime, st.mtime);
    }],
  ];
  it.each(cases)('%s', async (_what, damage) => {
    const store = new WheelStore(path.join(tmp, 'store'));
    const k = key('damaged');
    let writes = 0;
    const write = async (dir: string) => {
      writes++;
      await fill(dir, 'print(1)\n');
    };
    const first = await ensureLayer(store, k, write);
    // A warm reuse hashes nothing (identities match) and reports no damage.
    expect(await ensureLayer(store, k, write)).toEqual({ path: first.path, reused: true });
    await damage(first.path);
    const again = await ensureLayer(store, k, write);
    expect(writes).toBe(2);
    expect(again.reused).toBe(false);
    expect(again.damaged).toEqual(expect.any(String));
    expect(await fs.readFile(path.join(again.path, 'deps.pex', '__main__.py'), 'utf8')).toBe('print(1)\n');
    expect(await fs.readFile(path.join(again.path, 'deps.pex', '.deps', 'a-1.0-py3-none-any.whl'), 'utf8')).toBe('wheel bytes');
    expect(await fs.readdir(path.join(again.path, 'deps.pex'))).toEqual(['.deps', '__main__.py', 'pex']);
    // ...and the rebuilt one is reused as it is.
    expect(await ensureLayer(store, k, write)).toEqual({ path: again.path, reused: true });
    expect(writes).toBe(2);
    await store.release();
  });
});

describe('a layer Python runs from may gain byte code, and nothing else', () => {
  const pyc = (layer: string) => path.join(layer, 'deps.pex', '__pycache__', '__main__.cpython-311.pyc');
  const addPyc = async (layer: string) => {
    await fs.mkdir(path.join(layer, 'deps.pex', '__pycache__'), { recursive: true });
    await fs.writeFile(pyc(layer), 'byte code');
  };

  it('is reused with byte code added, and built again for any other change', async () => {
    const store = new WheelStore(path.join(tmp, 'store'));
    const k = key('venv');
    let writes = 0;
    const write = async (dir: string) => {
      writes++;
      await fill(dir, 'print(1)\n');
    };
    const first = await ensureLayer(store, k, write, { bytecode: true });
    await addPyc(first.path);
    expect(await ensureLayer(store, k, write, { bytecode: true })).toEqual({ path: first.path, reused: true });
    // Whoever reads the layer next, with or without the option: the record says what it allows.
    expect(await ensureLayer(store, k, write)).toEqual({ path: first.path, reused: true });
    expect(writes).toBe(1);
    // A source file added beside it is damage all the same.
    await fs.writeFile(path.join(first.path, 'deps.pex', 'extra.py'), 'import os\n');
    const again = await ensureLayer(store, k, write, { bytecode: true });
    expect([writes, again.reused, again.damaged]).toEqual([2, false, 'deps.pex/extra.py was added after the layer was written']);
    await store.release();
  });

  it('is built again when byte code is added to a layer that does not allow it', async () => {
    const store = new WheelStore(path.join(tmp, 'store'));
    const k = key('deps');
    const write = (dir: string) => fill(dir, 'print(1)\n');
    const first = await ensureLayer(store, k, write);
    await addPyc(first.path);
    const again = await ensureLayer(store, k, write);
    expect([again.reused, again.damaged]).toEqual([false, 'deps.pex/__pycache__/__main__.cpython-311.pyc was added after the layer was written']);
    await store.release();
  });
});
