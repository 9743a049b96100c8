import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { UserError } from '@nx-pex/pex';
import { writeZipapp, type ZipItem } from '../src/zipapp';
import { cleanupTempDirs, pyZipInfo, run, tempDir } from './support';

afterAll(cleanupTempDirs);

const PREFIX = Buffer.from('#!/usr/bin/env python3\n');

/** The same archive written by Python's zipfile, the way pex writes its zipapps (stored entries). */
function pythonZip(dest: string, entries: Array<{ name: string; data?: string; mode: number }>): void {
  run('python3', [
    '-c',
    'import json, sys, zipfile\n' +
      'entries = json.loads(sys.argv[2])\n' +
      'with open(sys.argv[1], "wb") as f:\n' +
      '    f.write(sys.argv[3].encode())\n' +
      '    with zipfile.ZipFile(f, "w") as zf:\n' +
      '        for e in entries:\n' +
      '            zi = zipfile.ZipInfo(e["name"], date_time=(1980, 1, 1, 0, 0, 0))\n' +
      '            zi.external_attr = e["mode"] << 16 | (0x10 if e["name"].endswith("/") else 0)\n' +
      '            zf.writestr(zi, (e.get("data") or "").encode())\n',
    dest,
    JSON.stringify(entries),
    PREFIX.toString(),
  ]).check();
}

describe('writeZipapp', () => {
  it("writes headers, central directory and end record byte for byte as Python's zipfile", async () => {
    const dir = await tempDir('nx-pex-zip-');
    const wheel = join(dir, 'dep.whl');
    const wheelBytes = Buffer.from('not really a wheel, but bytes to copy\n'.repeat(1000));
    await writeFile(wheel, wheelBytes);
    const items: ZipItem[] = [
      { path: 'pkg/sub/mod.py', executable: false, compress: false, source: { kind: 'buffer', data: Buffer.from('x = 1\n') } },
      { path: '__main__.py', executable: true, compress: false, source: { kind: 'buffer', data: Buffer.from('print("hi")\n') } },
      { path: 'pkg/ünï.txt', executable: false, compress: false, source: { kind: 'buffer', data: Buffer.from('utf-8 name\n') } },
      { path: '.deps/dep.whl', executable: false, compress: false, source: { kind: 'file', path: wheel, size: wheelBytes.length, what: 'dependency dep.whl' } },
    ];
    const ours = join(dir, 'ours.pex');
    await writeZipapp(ours, ours, PREFIX, items);
    const theirs = join(dir, 'theirs.pex');
    pythonZip(theirs, [
      { name: '.deps/', mode: 0o40755 },
      { name: '.deps/dep.whl', data: wheelBytes.toString(), mode: 0o100644 },
      { name: '__main__.py', data: 'print("hi")\n', mode: 0o100755 },
      { name: 'pkg/', mode: 0o40755 },
      { name: 'pkg/sub/', mode: 0o40755 },
      { name: 'pkg/sub/mod.py', data: 'x = 1\n', mode: 0o100644 },
      { name: 'pkg/ünï.txt', data: 'utf-8 name\n', mode: 0o100644 },
    ]);
    expect((await readFile(ours)).equals(await readFile(theirs))).toBe(true);
  });

  it('copies given deflated bytes and CRC as they are, and deflates the rest', async () => {
    const dir = await tempDir('nx-pex-zip-');
    const text = Buffer.from('import os\n'.repeat(500));
    const predeflated = deflateRawSync(text, { level: 9 });
    const items: ZipItem[] = [
      { path: 'a.py', executable: false, compress: true, source: { kind: 'buffer', data: text, crc32: crc32(text), deflated: predeflated } },
      { path: 'b.py', executable: false, compress: true, source: { kind: 'buffer', data: text } },
    ];
    const out = join(dir, 'x.pex');
    await writeZipapp(out, out, PREFIX, items);
    const info = pyZipInfo(out);
    expect(info.map((i) => [i.name, i.compress, i.size, i.crc])).toEqual([
      ['a.py', 8, text.length, crc32(text)],
      ['b.py', 8, text.length, crc32(text)],
    ]);
    const bytes = await readFile(out);
    expect(bytes.indexOf(predeflated)).toBeGreaterThan(0);
    run('python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; assert z.read("a.py") == z.read("b.py")', out]).check();
  });

  it('refuses a trusted file whose size changed, and a checked file whose sha256 does not match', async () => {
    const dir = await tempDir('nx-pex-zip-');
    const file = join(dir, 'dep.whl');
    await writeFile(file, 'twelve bytes');
    const attempt = (source: ZipItem['source'], compress: boolean) =>
      writeZipapp(join(dir, `${Math.random()}.pex`), 'x.pex', PREFIX, [{ path: '.deps/dep.whl', executable: false, compress, source }]).catch((e: unknown) => e);
    for (const compress of [false, true]) {
      const short = await attempt({ kind: 'file', path: file, size: 10, what: 'dependency dep.whl' }, compress);
      expect(short).toBeInstanceOf(UserError);
      expect((short as Error).message).toMatch(/dependency dep\.whl .*dep\.whl\) changed or is corrupt: .*10 bytes/);
      const wrong = await attempt({ kind: 'file', path: file, size: 12, sha256: '0'.repeat(64), what: 'dependency dep.whl' }, compress);
      expect(wrong).toBeInstanceOf(UserError);
      expect((wrong as Error).message).toMatch(/expected sha256 0{64}/);
    }
  });
});
