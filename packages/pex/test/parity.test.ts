/**
 * Parity with the real pex CLI at the pinned version: the same inputs must give the same
 * PEX-INFO bytes and the same zip entries (order, names, modes, compression, sizes, CRCs).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRuntime, PINNED_PEX, writePex, type PexOptions, type PexRuntime, type PexSource } from '@nx-pex/pex';
import { cleanupTempDirs, makeWheel, PEX_VENV_BIN, pyZipInfo, run, runtimeWheelPath, tempDir, type FixtureWheel } from './support';

jest.setTimeout(180_000);

function realPex(): string {
  if (!existsSync(PEX_VENV_BIN)) {
    throw new Error(
      `The real pex is missing at ${PEX_VENV_BIN}. Set it up with: python3 tools/fixtures/fetch.py ` +
        `(or: python3 -m venv .cache/pex-venv && .cache/pex-venv/bin/pip install pex==${PINNED_PEX.version}).`,
    );
  }
  return PEX_VENV_BIN;
}

function readEntry(pex: string, name: string): string {
  return run('python3', ['-c', 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode("utf-8"))', pex, name]).check();
}

describe('parity with the pex CLI', () => {
  let pexBin: string;
  let runtime: PexRuntime;
  let dir: string;
  let wheels: FixtureWheel[];
  let sources: PexSource[];
  beforeAll(async () => {
    pexBin = realPex();
    runtime = await loadRuntime(runtimeWheelPath());
    expect(run(pexBin, ['--version']).check().trim()).toBe(runtime.version);
    dir = await tempDir('nx-pex-parity-');
    wheels = [
      await makeWheel(join(dir, 'wheels'), 'greeting', '1.0', { 'greeting/__init__.py': 'import colorless\n\ndef hello():\n    return colorless.plain("hi")\n' }, ['colorless']),
      await makeWheel(join(dir, 'wheels'), 'colorless', '0.2', { 'colorless.py': 'def plain(s):\n    return s\n' }),
    ];
    const files: Record<string, string> = {
      'service_a/__init__.py': '',
      'service_a/main.py': 'import greeting\n\ndef main():\n    print(greeting.hello())\n',
      'service_a/.settings': 'x=1\n',
      'service_a/templates/page.html': '<p>caf\u00e9</p>\n',
      'tool.py': 'print("tool")\n',
    };
    sources = [];
    for (const [p, text] of Object.entries(files)) {
      const abs = join(dir, 'src', p);
      await mkdir(join(abs, '..'), { recursive: true });
      await writeFile(abs, text);
      sources.push({ path: p, absPath: abs });
    }
    await chmod(join(dir, 'src', 'tool.py'), 0o755);
  });
  afterAll(cleanupTempDirs);

  const variants: Array<{ name: string; args: string[]; options: Partial<PexOptions> }> = [
    { name: 'defaults', args: [], options: {} },
    {
      name: 'no-compress, tools, interpreter constraints, runtime pex root',
      args: ['--no-compress', '--include-tools', '--interpreter-constraint', 'CPython>=3.8, <4', '--runtime-pex-root', '/opt/pex-root'],
      options: { compress: false, includeTools: true, interpreterConstraints: ['CPython>=3.8, <4'], runtimePexRoot: '/opt/pex-root' },
    },
  ];

  for (const variant of variants) {
    it(`matches pex for ${variant.name}`, async () => {
      const out = await tempDir('nx-pex-parity-out-');
      const theirs = join(out, 'pex.pex');
      const ours = join(out, 'ours.pex');
      run(
        pexBin,
        [
          '--no-pre-install-wheels', '--no-pypi', '-f', join(dir, 'wheels'), 'greeting',
          '-D', join(dir, 'src'), '-e', 'service_a.main:main', '-o', theirs,
          '--python-shebang', '/usr/bin/env python3', ...variant.args,
        ],
        { env: { PEX_ROOT: join(out, 'build_root') } },
      ).check();
      await writePex(ours, {
        runtime,
        dependencies: wheels.map((w) => ({ filename: w.filename, path: w.path, sha256: w.sha256 })),
        sources,
        requirements: ['greeting'],
        entryPoint: 'service_a.main:main',
        shebang: '/usr/bin/env python3',
        ...variant.options,
      });

      // PEX-INFO, __main__.py and the import hook: byte-identical.
      expect(readEntry(ours, 'PEX-INFO')).toBe(readEntry(theirs, 'PEX-INFO'));
      expect(readEntry(ours, '__main__.py')).toBe(readEntry(theirs, '__main__.py'));
      expect(readEntry(ours, '__pex__/__init__.py')).toBe(readEntry(theirs, '__pex__/__init__.py'));

      // Zip entries: same order, names, modes, compression, sizes and CRCs; offsets past the shebang.
      const strip = (es: ReturnType<typeof pyZipInfo>) => es.map(({ name, attr, compress, size, crc, date }) => ({ name, attr, compress, size, crc, date }));
      const a = pyZipInfo(theirs);
      const b = pyZipInfo(ours);
      expect(strip(b)).toEqual(strip(a));
      expect(b[0]!.offset).toBe(a[0]!.offset);

      // Both run the same way.
      const env = { PEX_ROOT: join(out, 'run_root') };
      expect(run(ours, [], { env }).check()).toBe(run(theirs, [], { env }).check());
    });
  }
});
