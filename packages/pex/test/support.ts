import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yazl from 'yazl';
import { PINNED_PEX } from '@nx-pex/pex';

export const REPO_ROOT = resolve(__dirname, '../../..');
export const PEX_VENV_BIN = join(REPO_ROOT, '.cache/pex-venv/bin/pex');

/** The pinned pex wheel the runtime tests need; fails loudly when the fixture cache is empty. */
export function runtimeWheelPath(): string {
  const path = process.env.NX_PEX_TEST_PEX_WHEEL ?? join(REPO_ROOT, '.cache/wheels', PINNED_PEX.filename);
  if (!existsSync(path)) {
    throw new Error(
      `The pinned pex wheel is missing at ${path}. Run the fixture download first: ` +
        `python3 tools/fixtures/fetch.py (or set NX_PEX_TEST_PEX_WHEEL to the wheel ${PINNED_PEX.filename}).`,
    );
  }
  return path;
}

const tempDirs: string[] = [];
export async function tempDir(prefix = 'nx-pex-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
export async function cleanupTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function recordHash(data: Buffer): string {
  return 'sha256=' + createHash('sha256').update(data).digest('base64url');
}

export interface FixtureWheel {
  path: string;
  filename: string;
  sha256: string;
}

/** The environment of a child process: this one without PEX_* and PYTHONPATH, then `overrides` (undefined deletes). */
function childEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONIOENCODING: 'utf-8' };
  for (const k of Object.keys(env)) if (k.startsWith('PEX_') || k === 'PYTHONPATH') delete env[k];
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {},
): SpawnSyncReturns<string> & { check(): string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: childEnv(opts.env), cwd: opts.cwd, input: opts.input, timeout: 120_000 });
  return Object.assign(r, {
    check(): string {
      if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      }
      return r.stdout;
    },
  });
}

/** Python's view of a zip: entries with name, mode, compression, size and CRC, via `zipfile`. */
export function pyZipInfo(path: string): Array<{ name: string; attr: number; compress: number; size: number; crc: number; offset: number; date: number[] }> {
  const out = run('python3', [
    '-c',
    'import json, sys, zipfile\n' +
      'z = zipfile.ZipFile(sys.argv[1])\n' +
      'print(json.dumps([dict(name=i.filename, attr=i.external_attr, compress=i.compress_type, size=i.file_size, crc=i.CRC, offset=i.header_offset, date=list(i.date_time)) for i in z.infolist()]))',
    path,
  ]).check();
  return JSON.parse(out);
}

export interface WheelEntrySpec {
  name: string;
  /** Omit for a directory entry (name ends with '/'). */
  data?: string | Buffer;
  /** Unix mode stored in external_attr (default 0o100644; directories 0o40755). */
  mode?: number;
  /** false: a stored (method 0) entry; default deflated. */
  compress?: boolean;
}

/**
 * A wheel with the given entries in the given order; `RECORD` (hashes and sizes of every file,
 * with its own row where `recordAt` says, `\r\n` line ends when asked) is added under the
 * `.dist-info` directory named by the METADATA entry.
 */
export async function makeWheelFrom(
  dir: string,
  filename: string,
  entries: WheelEntrySpec[],
  opts: { crlfRecord?: boolean; compressRecord?: boolean } = {},
): Promise<FixtureWheel> {
  await mkdir(dir, { recursive: true });
  const metadata = entries.find((e) => /\.dist-info\/METADATA$/.test(e.name));
  if (!metadata) throw new Error('fixture wheel needs a METADATA entry');
  const distInfo = metadata.name.split('/')[0]!;
  const eol = opts.crlfRecord ? '\r\n' : '\n';
  const files = entries.filter((e) => e.data !== undefined).map((e) => [e.name, Buffer.from(e.data!)] as const);
  const record =
    files.map(([p, d]) => `${p.includes(',') ? `"${p}"` : p},${recordHash(d)},${d.length}${eol}`).join('') + `${distInfo}/RECORD,,${eol}`;
  const zip = new yazl.ZipFile();
  for (const e of [...entries, { name: `${distInfo}/RECORD`, data: record, compress: opts.compressRecord } as WheelEntrySpec]) {
    if (e.data === undefined) zip.addEmptyDirectory(e.name, { mtime: new Date(2021, 5, 7, 8, 9, 10), mode: e.mode ?? 0o40755 });
    else zip.addBuffer(Buffer.from(e.data), e.name, { mtime: new Date(2021, 5, 7, 8, 9, 10), mode: e.mode ?? 0o100644, compress: e.compress ?? true });
  }
  zip.end();
  const path = join(dir, filename);
  await new Promise<void>((res, rej) => {
    const ws = createWriteStream(path);
    zip.outputStream.pipe(ws).on('close', () => res()).on('error', rej);
  });
  return { path, filename, sha256: sha256(await readFile(path)) };
}

/** A tiny pure-Python wheel: METADATA, WHEEL, RECORD and the given modules. */
export function makeWheel(
  dir: string,
  name: string,
  version: string,
  modules: Record<string, string>,
  requiresDist: string[] = [],
): Promise<FixtureWheel> {
  const distInfo = `${name}-${version}.dist-info`;
  return makeWheelFrom(dir, `${name}-${version}-py3-none-any.whl`, [
    ...Object.entries(modules).map(([p, text]) => ({ name: p, data: text })),
    {
      name: `${distInfo}/METADATA`,
      data: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n` + requiresDist.map((r) => `Requires-Dist: ${r}\n`).join(''),
    },
    { name: `${distInfo}/WHEEL`, data: 'Wheel-Version: 1.0\nGenerator: nx-pex-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
  ]);
}

/** Runs a command asynchronously; resolves with its exit status and output. */
export function runAsync(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: childEnv(opts.env), cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/** The real pex at the pinned version; fails loudly (naming the fixture script) when it is missing. */
export function realPexBin(): string {
  if (!existsSync(PEX_VENV_BIN)) {
    throw new Error(
      `The real pex is missing at ${PEX_VENV_BIN}. Set it up with: python3 tools/fixtures/fetch.py ` +
        `(or: python3 -m venv .cache/pex-venv && .cache/pex-venv/bin/pip install pex==${PINNED_PEX.version}).`,
    );
  }
  return PEX_VENV_BIN;
}

/** A real wheel from the fixture cache; fails loudly when the cache is empty. */
export function cachedWheel(prefix: string): string {
  const dir = join(REPO_ROOT, '.cache/wheels');
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith('.whl')) : [];
  if (names.length !== 1) {
    throw new Error(`The fixture wheel ${prefix}*.whl is missing from ${dir}. Run the fixture download first: python3 tools/fixtures/fetch.py`);
  }
  return join(dir, names[0]!);
}
