/**
 * Parity with the real pex CLI at the pinned version, over a table of option combinations:
 * the same inputs must give byte-identical PEX-INFO, the same zip entries (order, names, modes,
 * compression, sizes, CRCs) and, for packed and loose layouts, the same trees.
 */
import { mkdir, symlink, writeFile, chmod } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { loadRuntime, writePex, type PexOptions, type PexRuntime, type PexSource } from '@nx-pex/pex';
import {
  cachedWheel,
  cleanupTempDirs,
  makeWheel,
  makeWheelFrom,
  realPexBin,
  run,
  runAsync,
  runtimeWheelPath,
  sha256,
  tempDir,
} from './support';
import { readFileSync } from 'node:fs';

jest.setTimeout(400_000);

/** Describes a PEX (zipapp file or packed/loose directory) as JSON, the same way for both builders. */
const DESCRIBE = String.raw`
import hashlib, json, os, stat, sys, zipfile
def zinfo(path):
    with zipfile.ZipFile(path) as z:
        return [[i.filename, i.external_attr, i.compress_type, i.file_size, i.CRC, list(i.date_time), i.create_system] for i in z.infolist()]
def describe(root):
    if os.path.isfile(root):
        with zipfile.ZipFile(root) as z:
            pex_info = z.read("PEX-INFO").decode("utf-8")
        return {"kind": "zipapp", "entries": zinfo(root), "pex_info": pex_info, "mode": oct(os.stat(root).st_mode)}
    tree = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                tree.append([rel, "link", os.readlink(p)])
            elif stat.S_ISDIR(st.st_mode):
                tree.append([rel, "dir", oct(st.st_mode)])
            else:
                row = [rel, "file", oct(st.st_mode)]
                if (rel == ".bootstrap" or rel.startswith(".deps" + os.sep)) and zipfile.is_zipfile(p):
                    row.append(zinfo(p))
                else:
                    with open(p, "rb") as f:
                        row.append(hashlib.sha256(f.read()).hexdigest())
                tree.append(row)
    with open(os.path.join(root, "PEX-INFO")) as f:
        pex_info = f.read()
    return {"kind": "dir", "tree": tree, "pex_info": pex_info, "mode": oct(os.stat(root).st_mode & 0o777)}
print(json.dumps([describe(p) for p in sys.argv[1:]]))
`;

/** Whole-artifact byte identity (the stretch goal), reported but not required. */
const BYTES = String.raw`
import hashlib, os, sys
def digest(root):
    if os.path.isfile(root):
        with open(root, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    h = hashlib.sha256()
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            h.update(os.path.relpath(p, root).encode())
            if not os.path.islink(p):
                with open(p, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()
print(digest(sys.argv[1]) == digest(sys.argv[2]))
`;

interface Combo {
  name: string;
  /** Requirements passed to both tools. */
  reqs: string[];
  /** pex flags beyond the common ones. */
  args: string[];
  options: Partial<PexOptions>;
  /** Build with the sources directory (default true). */
  sources?: boolean;
}

const APP = 'app.main:main';
const COMBOS: Combo[] = [
  { name: 'zipapp, wheels as they came', reqs: ['greeting', 'fancy'], args: ['--no-pre-install-wheels', '-e', APP], options: { entryPoint: APP } },
  { name: 'zipapp, pre-installed', reqs: ['greeting', 'fancy'], args: ['-e', APP], options: { entryPoint: APP, preInstallWheels: true } },
  { name: 'packed, wheels', reqs: ['greeting', 'fancy'], args: ['--no-pre-install-wheels', '--layout', 'packed', '-e', APP], options: { entryPoint: APP, layout: 'packed' } },
  { name: 'packed, pre-installed', reqs: ['greeting', 'fancy'], args: ['--layout', 'packed', '-e', APP], options: { entryPoint: APP, layout: 'packed', preInstallWheels: true } },
  { name: 'loose, wheels', reqs: ['greeting', 'fancy'], args: ['--no-pre-install-wheels', '--layout', 'loose', '-e', APP], options: { entryPoint: APP, layout: 'loose' } },
  { name: 'loose, pre-installed', reqs: ['greeting', 'fancy'], args: ['--layout', 'loose', '-e', APP], options: { entryPoint: APP, layout: 'loose', preInstallWheels: true } },
  { name: 'zipapp, pre-installed, no compression', reqs: ['fancy'], args: ['--no-compress', '-e', APP], options: { entryPoint: APP, preInstallWheels: true, compress: false } },
  { name: 'packed, pre-installed, no compression', reqs: ['fancy'], args: ['--no-compress', '--layout', 'packed'], options: { layout: 'packed', preInstallWheels: true, compress: false } },
  { name: 'numpy (native code), zipapp, wheels', reqs: ['numpy'], args: ['--no-pre-install-wheels'], options: {}, sources: false },
  { name: 'numpy (native code), zipapp, pre-installed', reqs: ['numpy'], args: [], options: { preInstallWheels: true }, sources: false },
  { name: 'numpy (native code), packed, pre-installed', reqs: ['numpy'], args: ['--layout', 'packed'], options: { layout: 'packed', preInstallWheels: true }, sources: false },
  { name: 'fastapi + pydantic_core, zipapp, pre-installed', reqs: ['fastapi'], args: [], options: { preInstallWheels: true }, sources: false },
  { name: 'fastapi + uvicorn, loose, wheels', reqs: ['fastapi', 'uvicorn'], args: ['--no-pre-install-wheels', '--layout', 'loose'], options: { layout: 'loose' }, sources: false },
  { name: 'console script -c (callable), pre-installed', reqs: ['fancy'], args: ['-c', 'fancy'], options: { script: 'fancy', preInstallWheels: true } },
  { name: 'console script -c (module)', reqs: ['fancy'], args: ['--no-pre-install-wheels', '-c', 'fancy-mod'], options: { script: 'fancy-mod' } },
  { name: 'gui script -c', reqs: ['fancy'], args: ['--no-pre-install-wheels', '-c', 'fancy-gui'], options: { script: 'fancy-gui' } },
  { name: 'distribution script -c (.data/scripts)', reqs: ['fancy'], args: ['--no-pre-install-wheels', '-c', 'fancy-run'], options: { script: 'fancy-run' } },
  { name: 'distribution script -c, pre-installed, packed', reqs: ['fancy'], args: ['--layout', 'packed', '-c', 'fancy-run'], options: { script: 'fancy-run', layout: 'packed', preInstallWheels: true } },
  { name: 'no entry point (an interpreter)', reqs: ['greeting'], args: ['--no-pre-install-wheels'], options: {} },
  { name: 'module entry point', reqs: ['greeting'], args: ['--no-pre-install-wheels', '-e', 'app.main'], options: { entryPoint: 'app.main' } },
  { name: 'include tools', reqs: ['greeting'], args: ['--no-pre-install-wheels', '--include-tools', '-e', APP], options: { entryPoint: APP, includeTools: true } },
  {
    name: 'venv prepend with copies and system site packages, non-hermetic',
    reqs: ['fancy'],
    args: ['--venv', 'prepend', '--venv-copies', '--venv-site-packages-copies', '--venv-system-site-packages', '--non-hermetic-venv-scripts', '-e', APP],
    options: { entryPoint: APP, preInstallWheels: true, venv: true, venvBinPath: 'prepend', venvCopies: true, venvSitePackagesCopies: true, venvSystemSitePackages: true, venvHermeticScripts: false },
  },
  { name: 'venv, packed, wheels', reqs: ['greeting'], args: ['--no-pre-install-wheels', '--venv', '--layout', 'packed', '-e', APP], options: { entryPoint: APP, venv: true, layout: 'packed' } },
  {
    name: 'inject args, env and python args',
    reqs: ['greeting'],
    args: ['--no-pre-install-wheels', '-e', APP, '--inject-args', '--greeting "hello world" -v', '--inject-env', 'APP_MODE=prod', '--inject-env', 'CAFE=caf\u00e9', '--inject-python-args=-O -u'],
    options: { entryPoint: APP, injectArgs: ['--greeting', 'hello world', '-v'], injectEnv: { APP_MODE: 'prod', CAFE: 'caf\u00e9' }, injectPythonArgs: ['-O', '-u'] },
  },
  {
    name: 'shebang and interpreter constraints',
    reqs: ['greeting'],
    args: ['--no-pre-install-wheels', '-e', APP, '--interpreter-constraint', 'CPython>=3.8, <4', '--interpreter-constraint', 'CPython==3.11.*'],
    options: { entryPoint: APP, interpreterConstraints: ['CPython>=3.8, <4', 'CPython==3.11.*'] },
  },
  {
    name: 'inherit path, no strip env, no warnings, ignore errors, install jobs',
    reqs: ['greeting'],
    args: ['--no-pre-install-wheels', '-e', APP, '--inherit-path=prefer', '--no-strip-pex-env', '--no-emit-warnings', '--ignore-errors', '--max-install-jobs', '4'],
    options: { entryPoint: APP, inheritPath: 'prefer', stripPexEnv: false, emitWarnings: false, ignoreErrors: true, maxInstallJobs: 4 },
  },
  {
    name: 'runtime pex root, pex path, bind resource path, newest strategy',
    reqs: ['greeting'],
    args: ['--no-pre-install-wheels', '-e', APP, '--runtime-pex-root', '/opt/pex-root', '--pex-path', '/srv/a.pex:/srv/b.pex', '--bind-resource-path', 'PAGE=app/templates/page.html', '--interpreter-selection-strategy', 'newest'],
    options: { entryPoint: APP, runtimePexRoot: '/opt/pex-root', pexPath: ['/srv/a.pex', '/srv/b.pex'], bindResourcePaths: { PAGE: 'app/templates/page.html' }, interpreterSelectionStrategy: 'newest' },
  },
  { name: 'platlib root with .data/purelib and headers, loose, pre-installed', reqs: ['platty'], args: ['--layout', 'loose'], options: { layout: 'loose', preInstallWheels: true }, sources: false },
  { name: 'CRLF RECORD wheel, zipapp, pre-installed', reqs: ['crlf'], args: [], options: { preInstallWheels: true }, sources: false },
];

function fancyWheelEntries(): Parameters<typeof makeWheelFrom>[2] {
  const d = 'fancy-2.0.data';
  return [
    { name: 'fancy/' },
    { name: 'fancy/__init__.py', data: 'VERSION = "2.0"\n' },
    { name: 'fancy/cli.py', data: 'import sys\n\ndef main():\n    print("fancy main", sys.argv[1:])\n    return 0\n\nclass gui:\n    @staticmethod\n    def run():\n        print("fancy gui")\n\nif __name__ == "__main__":\n    print("fancy as module")\n' },
    { name: 'fancy/data/table.json', data: '{"rows": [1, 2, 3]}\n' },
    { name: 'fancy/bin/helper.sh', data: '#!/bin/sh\necho helper\n', mode: 0o100755 },
    { name: 'fancy/odd-mode.txt', data: 'mode bits without a file type\n', mode: 0o755 },
    { name: `${d}/scripts/fancy-run`, data: '#!python\n# -*- coding: utf-8 -*-\nimport fancy\nprint("fancy-run", fancy.VERSION)\n', mode: 0o100755 },
    { name: `${d}/scripts/fancy-env`, data: '#!/usr/bin/env python3.11 -u\nprint("env script")\n', mode: 0o100755 },
    { name: `${d}/scripts/fancy-redirect`, data: "#!/bin/sh\n'''exec' \"/very/long/python\" \"$0\" \"$@\"\n' '''\nprint('redirected')\n", mode: 0o100755 },
    { name: `${d}/scripts/fancy-sh`, data: '#!/bin/sh\necho plain shell\n', mode: 0o100755 },
    { name: `${d}/scripts/fancy`, data: '#!python\nprint("replaced by the generated console script")\n', mode: 0o100755 },
    { name: `${d}/data/share/fancy/readme.txt`, data: 'data file\n' },
    { name: `${d}/headers/fancy.h`, data: '#define FANCY 1\n' },
    { name: 'fancy-2.0.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: fancy\nVersion: 2.0\n' },
    { name: 'fancy-2.0.dist-info/WHEEL', data: 'Wheel-Version: 1.0\nGenerator: nx-pex-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
    {
      name: 'fancy-2.0.dist-info/entry_points.txt',
      data: '[console_scripts]\nfancy = fancy.cli:main\nfancy-mod = fancy.cli\n\n[gui_scripts]\nfancy-gui = fancy.cli:gui.run [extra]\n',
    },
  ];
}

describe('parity with the pex CLI over option combinations', () => {
  let pexBin: string;
  let runtime: PexRuntime;
  let dir: string;
  let findLinks: string;
  let srcDir: string;
  let sources: PexSource[];
  const wheelPaths = new Map<string, string>();

  beforeAll(async () => {
    pexBin = realPexBin();
    runtime = await loadRuntime(runtimeWheelPath());
    expect(run(pexBin, ['--version']).check().trim()).toBe(runtime.version);
    dir = await tempDir('nx-pex-parity2-');
    findLinks = join(dir, 'wheels');
    const made = [
      await makeWheel(findLinks, 'greeting', '1.0', { 'greeting/__init__.py': 'import colorless\n\ndef hello():\n    return colorless.plain("hi")\n' }, ['colorless']),
      await makeWheel(findLinks, 'colorless', '0.2', { 'colorless.py': 'def plain(s):\n    return s\n' }),
      await makeWheelFrom(findLinks, 'fancy-2.0-py3-none-any.whl', fancyWheelEntries()),
      await makeWheelFrom(findLinks, 'platty-1.0-cp311-cp311-linux_x86_64.whl', [
        { name: 'platty/__init__.py', data: 'from platty_extra import X\n' },
        { name: 'platty/_native.cpython-311-x86_64-linux-gnu.so', data: Buffer.from([0x7f, 0x45, 0x4c, 0x46]), mode: 0o100755 },
        { name: 'platty-1.0.data/purelib/platty_extra.py', data: 'X = 1\n' },
        { name: 'platty-1.0.data/headers/platty.h', data: '/* header */\n' },
        { name: 'platty-1.0.data/data/etc/platty.conf', data: 'conf\n' },
        { name: 'platty-1.0.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: platty\nVersion: 1.0\n' },
        { name: 'platty-1.0.dist-info/WHEEL', data: 'Wheel-Version: 1.0\nGenerator: nx-pex-test\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n' },
      ]),
      await makeWheelFrom(
        findLinks,
        'crlf-0.1-py2.py3-none-any.whl',
        [
          { name: 'crlf.py', data: 'print("crlf")\n' },
          { name: 'crlf-0.1.data/headers/crlf.h', data: '/* two python versions: pythonX.Y */\n' },
          { name: 'crlf-0.1.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: CRLF\nVersion: 0.1\n' },
          { name: 'crlf-0.1.dist-info/WHEEL', data: 'Wheel-Version: 1.0\r\nRoot-Is-Purelib: true\r\nTag: py2-none-any\r\nTag: py3-none-any\r\n' },
        ],
        { crlfRecord: true },
      ),
    ];
    for (const w of made) wheelPaths.set(w.filename, w.path);
    for (const prefix of ['numpy-', 'fastapi-', 'pydantic-2', 'pydantic_core-', 'starlette-', 'anyio-', 'idna-', 'typing_extensions-', 'typing_inspection-', 'annotated_types-', 'annotated_doc-', 'uvicorn-', 'click-', 'h11-', 'opentelemetry_api-']) {
      const p = cachedWheel(prefix);
      await symlink(p, join(findLinks, basename(p)));
      wheelPaths.set(basename(p), p);
    }
    srcDir = join(dir, 'src');
    const files: Record<string, string> = {
      'app/__init__.py': '',
      'app/main.py': 'import sys\nimport greeting\n\ndef main():\n    print(greeting.hello(), sys.argv[1:])\n\nif __name__ == "__main__":\n    main()\n',
      'app/.settings': 'x=1\n',
      'app/templates/page.html': '<p>caf\u00e9</p>\n',
      'app/static/logo.bin': '\u0000\u0001binary-ish\n',
      'tool.py': 'print("tool")\n',
    };
    sources = [];
    for (const [p, text] of Object.entries(files)) {
      const abs = join(srcDir, p);
      await mkdir(join(abs, '..'), { recursive: true });
      await writeFile(abs, text);
      sources.push({ path: p, absPath: abs });
    }
    await chmod(join(srcDir, 'tool.py'), 0o755);
  });
  afterAll(cleanupTempDirs);

  it(`matches pex for ${COMBOS.length} combinations`, async () => {
    console.log(`parity: ${COMBOS.length} combinations`);
    expect(COMBOS.length).toBeGreaterThanOrEqual(20);
    const out = await tempDir('nx-pex-parity2-out-');
    const theirs = (i: number) => join(out, `theirs-${i}.pex`);
    const ours = (i: number) => join(out, `ours-${i}.pex`);

    // Real pex, two builds at a time.
    const failures: string[] = [];
    let next = 0;
    const only = process.env.NX_PEX_PARITY_ONLY ? new RegExp(process.env.NX_PEX_PARITY_ONLY) : undefined;
    const selected = COMBOS.map((c, i) => [c, i] as const).filter(([c]) => !only || only.test(c.name));
    const worker = async () => {
      while (next < selected.length) {
        const [c, i] = selected[next++]!;
        const args = [
          '--no-pypi', '-f', findLinks, ...c.reqs, ...(c.sources === false ? [] : ['-D', srcDir]),
          '-o', theirs(i), '--python-shebang', '/usr/bin/env python3', ...c.args,
        ];
        const r = await runAsync(pexBin, args, { env: { PEX_ROOT: join(out, 'pex_root') } });
        if (r.status !== 0) failures.push(`${c.name}: pex ${args.join(' ')} failed:\n${r.stderr}`);
      }
    };
    await Promise.all([worker(), worker()]);
    expect(failures).toEqual([]);

    let byteIdentical = 0;
    const timings: string[] = [];
    const mismatches: string[] = [];
    for (const [c, i] of selected) {
      const [desc] = JSON.parse(run('python3', ['-c', DESCRIBE, theirs(i)]).check()) as Array<{ pex_info: string }>;
      // The closure pex resolved is the input: the writer is under test, not the resolver.
      const names = Object.keys((JSON.parse(desc!.pex_info) as { distributions: Record<string, string> }).distributions);
      const dependencies = names.map((n) => {
        const path = wheelPaths.get(n)!;
        return { filename: n, path, sha256: sha256(readFileSync(path)) };
      });
      const t0 = Date.now();
      await writePex(ours(i), {
        runtime,
        dependencies,
        sources: c.sources === false ? [] : sources,
        requirements: c.reqs,
        shebang: '/usr/bin/env python3',
        ...c.options,
      });
      const t1 = Date.now();
      const [a, b] = JSON.parse(run('python3', ['-c', DESCRIBE, theirs(i), ours(i)]).check()) as unknown[];
      try {
        expect(b).toEqual(a);
      } catch (e) {
        mismatches.push(`${c.name}: ${(e as Error).message.slice(0, 3000)}`);
      }
      if (run('python3', ['-c', BYTES, theirs(i), ours(i)]).check().trim() === 'True') byteIdentical++;
      timings.push(`${c.name}: ours ${t1 - t0} ms, compare ${Date.now() - t1} ms`);
    }
    console.log(`parity: ${selected.length - mismatches.length}/${selected.length} combinations match pex; ${byteIdentical} byte-identical as whole artifacts`);
    if (process.env.NX_PEX_PARITY_TIMINGS) console.log(timings.join('\n'));
    expect(mismatches).toEqual([]);
  });
});
