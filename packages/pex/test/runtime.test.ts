import { createWriteStream } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';
import { join } from 'node:path';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { loadRuntime, parseBootParameters, PexError, PINNED_PEX, type PexRuntime } from '@nx-pex/pex';
import { cleanupTempDirs, run, runtimeWheelPath, sha256, tempDir } from './support';

async function unzipTo(zipPath: string, dest: string): Promise<void> {
  const out = run('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', zipPath, dest]);
  out.check();
}

/** Rewrites a zip, replacing or dropping entries. */
async function rewriteZip(src: string, dest: string, edit: (name: string, data: Buffer) => Buffer | null): Promise<void> {
  const zf = await new Promise<yauzl.ZipFile>((res, rej) =>
    yauzl.open(src, { lazyEntries: true }, (e, z) => (e ? rej(e) : res(z!))),
  );
  const out = new yazl.ZipFile();
  await new Promise<void>((res, rej) => {
    zf.on('entry', (entry: yauzl.Entry) => {
      zf.openReadStream(entry, (err, stream) => {
        if (err) return rej(err);
        const chunks: Buffer[] = [];
        stream!.on('data', (c: Buffer) => chunks.push(c));
        stream!.on('end', () => {
          const data = edit(entry.fileName, Buffer.concat(chunks));
          if (data) out.addBuffer(data, entry.fileName);
          zf.readEntry();
        });
      });
    });
    zf.on('end', () => res());
    zf.on('error', rej);
    zf.readEntry();
  });
  out.end();
  await new Promise<void>((res, rej) => out.outputStream.pipe(createWriteStream(dest)).on('close', () => res()).on('error', rej));
}

describe('loadRuntime', () => {
  let wheel: string;
  let runtime: PexRuntime;
  beforeAll(async () => {
    wheel = runtimeWheelPath();
    runtime = await loadRuntime(wheel);
  });
  afterAll(cleanupTempDirs);

  it('reads the pinned wheel', async () => {
    expect(runtime.version).toBe(PINNED_PEX.version);
    expect(runtime.wheelSha256).toBe(sha256(await readFile(wheel)));
    expect(runtime.wheelSha256).toBe(PINNED_PEX.sha256);
    expect(runtime.bootParameters).toEqual([
      'bootstrap_dir',
      'pex_root',
      'pex_hash',
      'hermetic_boot',
      'has_interpreter_constraints',
      'pex_path',
      'is_venv',
      'inject_python_args',
    ]);
    expect(runtime.pexBootPy).toContain('def boot(');
  });

  it("selects the same .bootstrap files and bootstrap_hash as pex's own PEXBuilder", async () => {
    // Oracle: run pex's builder from the unpacked wheel and list what it puts in .bootstrap.
    const dir = await tempDir();
    await unzipTo(wheel, join(dir, 'whl'));
    const script = [
      'import json, sys',
      'sys.path.insert(0, sys.argv[1])',
      'from pex.pex_builder import PEXBuilder',
      'from pex.pex_info import PexInfo',
      'out = {}',
      'for tools in (False, True):',
      '    info = PexInfo.default()',
      '    info.includes_tools = tools',
      '    pb = PEXBuilder(pex_info=info)',
      '    pb._prepare_bootstrap()',
      '    ch = pb._chroot',
      '    files = sorted(ch.filesets.get("bootstrap", ()))',
      '    out[str(tools)] = dict(hash=pb.info.bootstrap_hash, files=files,',
      '        stored=sorted(f for f in files if not ch._compress_by_file.get(f, True)),',
      '        digests={f: __import__("hashlib").sha256(open(ch.path() + "/" + f, "rb").read()).hexdigest() for f in files})',
      'print(json.dumps(out))',
    ].join('\n');
    const oracle = JSON.parse(run('python3', ['-c', script, join(dir, 'whl')], { env: { PEX_ROOT: join(dir, 'pex_root') } }).check()) as Record<
      string,
      { hash: string; files: string[]; stored: string[]; digests: Record<string, string> }
    >;
    for (const [tools, bootstrap] of [
      ['False', runtime.bootstrap],
      ['True', runtime.bootstrapWithTools],
    ] as const) {
      const expected = oracle[tools]!;
      expect(bootstrap.hash).toBe(expected.hash);
      expect(bootstrap.files.map((f) => f.path).sort()).toEqual(expected.files);
      expect(bootstrap.files.filter((f) => !f.compress).map((f) => f.path).sort()).toEqual(expected.stored);
      for (const f of bootstrap.files) expect([f.path, sha256(f.data)]).toEqual([f.path, expected.digests[f.path]]);
    }
    // The wheel ships an empty lock file next to pex/hashing.py; pex copies it like any other file.
    expect(runtime.bootstrap.files.map((f) => f.path)).toContain('.bootstrap/pex/hashing.py.lck');
    expect(runtime.bootstrapWithTools.files.length).toBeGreaterThan(runtime.bootstrap.files.length);
  });

  it('parses def boot(...) signatures', () => {
    expect(parseBootParameters('x = 1\ndef boot(\n    a,  # type: str\n    b=None,  # type: Tuple[str, ...]\n):\n    # type: (...) -> Tuple[Any, bool, bool]\n    pass\n')).toEqual({
      names: ['a', 'b'],
      returns: 'Tuple[Any, bool, bool]',
    });
    expect(parseBootParameters('def other():\n  pass\n')).toBeUndefined();
  });

  it('rejects a runtime whose boot() takes unknown parameters, naming wheel and version', async () => {
    const dir = await tempDir();
    const bad = join(dir, 'pex-9.9.9-py3-none-any.whl');
    await rewriteZip(wheel, bad, (name, data) => {
      if (name === 'pex/version.py') return Buffer.from('__version__ = "9.9.9"\n');
      if (name === 'pex/pex_boot.py') return Buffer.from(data.toString().replace('    is_venv,  # type: bool\n', '    is_venv,  # type: bool\n    new_knob,  # type: bool\n'));
      return data;
    });
    const err = await loadRuntime(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PexError);
    expect((err as Error).message).toMatch(/pex-9\.9\.9-py3-none-any\.whl \(pex 9\.9\.9/);
    expect((err as Error).message).toContain('new_knob');
  });

  it('rejects a wheel without pex_boot.py or that is not a zip', async () => {
    const dir = await tempDir();
    const noBoot = join(dir, 'pex-1.0-py3-none-any.whl');
    await rewriteZip(wheel, noBoot, (name, data) => (name === 'pex/pex_boot.py' ? null : data));
    await expect(loadRuntime(noBoot)).rejects.toThrow(/pex-1\.0-py3-none-any\.whl \(pex 2\.105\.2.*no pex\/pex_boot\.py/);
    const notZip = join(dir, 'pex-2.0-py3-none-any.whl');
    await writeFile(notZip, 'not a zip');
    await expect(loadRuntime(notZip)).rejects.toBeInstanceOf(PexError);
    const noPackage = join(dir, 'pex-3.0-py3-none-any.whl');
    await rewriteZip(wheel, noPackage, (name, data) => (name.startsWith('pex/fetcher/') ? null : data));
    await expect(loadRuntime(noPackage)).rejects.toThrow(/no pex\/fetcher\/ package/);
  });
  /** A runtime with every buffer replaced by its sha256 (deep equality of buffers is slow in jest). */
  const summary = (r: PexRuntime) => {
    const files = (b: PexRuntime['bootstrap']) =>
      b.files.map((f) => ({ ...f, data: sha256(f.data), deflated: f.deflated && sha256(f.deflated) }));
    return { ...r, bootstrap: files(r.bootstrap), bootstrapWithTools: files(r.bootstrapWithTools), hashes: [r.bootstrap.hash, r.bootstrapWithTools.hash] };
  };

  it('keeps the prepared runtime in a cache directory and reads it back unchanged', async () => {
    const cacheDir = join(await tempDir(), 'runtimes');
    const first = await loadRuntime(wheel, { cacheDir });
    const files = await readdir(cacheDir);
    expect(files).toEqual([`${PINNED_PEX.sha256}.v2.runtime`]);
    const cacheFile = join(cacheDir, files[0]!);
    const written = await readFile(cacheFile);
    const second = await loadRuntime(wheel, { cacheDir });
    for (const r of [first, second]) {
      expect(summary(r)).toEqual(summary(runtime));
      for (const f of [...r.bootstrap.files, ...r.bootstrapWithTools.files]) {
        expect(f.crc32).toBe(crc32(f.data));
        if (f.compress) expect(inflateRawSync(f.deflated!).equals(f.data)).toBe(true);
        else expect(f.deflated).toBeUndefined();
      }
    }
    // A damaged cache file is prepared again from the wheel and replaced.
    const damaged = Buffer.from(written);
    damaged[damaged.length - 100] ^= 0xff;
    await writeFile(cacheFile, damaged);
    expect(summary(await loadRuntime(wheel, { cacheDir }))).toEqual(summary(runtime));
    expect((await readFile(cacheFile)).equals(written)).toBe(true);
    await writeFile(cacheFile, 'garbage');
    expect(summary(await loadRuntime(wheel, { cacheDir }))).toEqual(summary(runtime));
    expect((await readFile(cacheFile)).equals(written)).toBe(true);
    expect(await readdir(cacheDir)).toEqual(files);
    // With the sha256 vouched for, a cached runtime is found without reading the wheel.
    const gone = join(cacheDir, '..', PINNED_PEX.filename);
    expect(summary(await loadRuntime(gone, { cacheDir, sha256: PINNED_PEX.sha256 }))).toEqual(summary(runtime));
    await expect(loadRuntime(wheel, { cacheDir: join(cacheDir, '..', 'other'), sha256: '0'.repeat(64) })).rejects.toThrow(
      /is damaged: expected sha256 0{64}, read 5a4d73fb/,
    );
  });

  it('prepares the runtime without a writable cache directory', async () => {
    const blocker = join(await tempDir(), 'file');
    await writeFile(blocker, 'a file where the cache directory would go');
    expect(summary(await loadRuntime(wheel, { cacheDir: join(blocker, 'runtimes') }))).toEqual(summary(runtime));
  });
});
