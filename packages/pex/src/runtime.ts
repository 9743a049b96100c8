/**
 * The pex runtime, read out of a pinned `pex` wheel: the `.bootstrap/pex/...` files pex itself
 * would copy into a PEX, their `bootstrap_hash`, and `pex_boot.py` with the `boot()` signature
 * the generated `__main__.py` has to call.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import type yauzl from 'yauzl';
import { tryWriteFileAtomic } from '@nx-pex/fs';
import { PexError } from './errors';
import { pyCompare } from './python';
import { listAllEntries, openZip, readZipEntry } from './zipread';

/** The pex release whose runtime nx-pex embeds. */
export const PINNED_PEX = {
  version: '2.105.2',
  filename: 'pex-2.105.2-py2.py35.py36.py37.py38.py39.py310.py311-none-any.whl',
  sha256: '5a4d73fbeab30ddf70e360971cb19b9fa80b2a29cfe83e786215fcdd5ef1af9d',
} as const;

/** One file of the runtime, at its path inside the PEX (`.bootstrap/pex/...`). */
export interface RuntimeFile {
  path: string;
  data: Buffer;
  executable: boolean;
  /** False for the empty package markers pex creates itself (it stores those uncompressed). */
  compress: boolean;
  /** CRC-32 of `data`. */
  crc32: number;
  /** `data` as raw deflate at zlib's default level, as written into a compressed PEX (when `compress`). */
  deflated?: Buffer;
}

export interface RuntimeBootstrap {
  files: RuntimeFile[];
  /** sha1 over the contents of pex's own (non-vendored) files, in pex's walk order. */
  hash: string;
}

export interface PexRuntime {
  version: string;
  wheelSha256: string;
  wheelFilename: string;
  /** Parameter names of `def boot(...)` in the wheel's `pex/pex_boot.py`, in order. */
  bootParameters: string[];
  /** Text of `pex/pex_boot.py` (newlines normalised as Python's text mode reads it). */
  pexBootPy: string;
  bootstrap: RuntimeBootstrap;
  bootstrapWithTools: RuntimeBootstrap;
}

/** `boot()` parameters this writer knows how to fill. */
const KNOWN_BOOT_PARAMETERS: ReadonlySet<string> = new Set([
  'bootstrap_dir',
  'pex_root',
  'pex_hash',
  'hermetic_boot',
  'hermetic_venv_scripts',
  'has_interpreter_constraints',
  'pex_path',
  'is_venv',
  'inject_python_args',
]);

const BOOTSTRAP_DIR = '.bootstrap';
const VENDORED = 'pex/vendor/_vendored/';

export function isPycFile(path: string): boolean {
  return path.endsWith('.pyc') || path.endsWith('.pyo') || /\.pyc\.[0-9]+$/.test(path);
}

/** Bytecode, or anything under a `__pycache__` directory: never packed nor hashed. */
export function isPycPath(path: string): boolean {
  return isPycFile(path) || path.split('/').slice(0, -1).includes('__pycache__');
}

/** Parses the parameter names of `def boot(...)`; undefined when there is no such function. */
export function parseBootParameters(pexBootPy: string): { names: string[]; returns: string | undefined } | undefined {
  const start = pexBootPy.search(/^def boot\(/m);
  if (start < 0) return undefined;
  const open = pexBootPy.indexOf('(', start);
  let depth = 0;
  let end = -1;
  let inComment = false;
  for (let i = open; i < pexBootPy.length; i++) {
    const c = pexBootPy[i];
    if (inComment) {
      if (c === '\n') inComment = false;
      continue;
    }
    if (c === '#') inComment = true;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') {
      depth--;
      if (depth === 0) {
        end = i;
        break;
      }
    }
  }
  if (end < 0) return undefined;
  const inner = pexBootPy
    .slice(open + 1, end)
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join('\n');
  const names = inner
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => p.split(/[=:]/)[0]!.trim());
  const after = pexBootPy.slice(end).split('\n').slice(1, 3).join('\n');
  const returns = /#\s*type:\s*\(.*\)\s*->\s*(.+)$/m.exec(after)?.[1]?.trim();
  return { names, returns };
}

function parsePyStringList(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2]!);
}

/** Where and how `loadRuntime` may keep a prepared runtime between builds. */
export interface RuntimeCacheOptions {
  /**
   * A directory for prepared runtimes (one file per pex wheel sha256). Preparing a runtime means
   * inflating, hashing and deflating every file once; with a cache that is done once per wheel.
   */
  cacheDir?: string;
  /**
   * The wheel's sha256 when the caller already verified it (a content-addressed store file): a
   * cached runtime is then found without reading the wheel at all.
   */
  sha256?: string;
}

/**
 * Reads a pex wheel and prepares its runtime: the same `.bootstrap` file selection that
 * `pex.pex_builder.PEXBuilder._prepare_bootstrap` makes from an installed pex. With `cacheDir`,
 * a runtime prepared before from a wheel with the same sha256 is read back instead.
 */
export async function loadRuntime(pexWheelPath: string, options: RuntimeCacheOptions = {}): Promise<PexRuntime> {
  const readWheel = () =>
    readFile(pexWheelPath).catch((e: Error) => {
      throw new PexError(`Cannot read the pex runtime wheel ${pexWheelPath}: ${e.message}`);
    });
  const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  // A wheel whose hash the caller vouches for is read only when its runtime is not cached.
  let wheel = options.sha256 === undefined ? await readWheel() : undefined;
  const wheelSha256 = options.sha256?.toLowerCase() ?? sha256Of(wheel!);
  const cacheFile = options.cacheDir && join(options.cacheDir, `${wheelSha256}.${CACHE_FORMAT}.runtime`);
  if (cacheFile) {
    const cached = await readRuntimeCache(cacheFile, wheelSha256, basename(pexWheelPath));
    if (cached) return cached;
  }
  if (!wheel) {
    wheel = await readWheel();
    const actual = sha256Of(wheel);
    if (actual !== wheelSha256) {
      throw new PexError(`The pex runtime wheel ${pexWheelPath} is damaged: expected sha256 ${wheelSha256}, read ${actual}. Delete it so that it is fetched again.`);
    }
  }
  const runtime = await prepareRuntime(wheel, pexWheelPath, wheelSha256);
  if (cacheFile) await writeRuntimeCache(cacheFile, runtime);
  return runtime;
}

async function prepareRuntime(wheel: Buffer, pexWheelPath: string, wheelSha256: string): Promise<PexRuntime> {
  const wheelFilename = basename(pexWheelPath);
  let zf: yauzl.ZipFile;
  try {
    zf = await openZip(wheel);
  } catch (e) {
    throw new PexError(`Cannot read the pex runtime wheel ${pexWheelPath}: ${(e as Error).message}`);
  }
  try {
    const entries = (await listAllEntries(zf)).filter((e) => e.name.startsWith('pex/') && !e.name.endsWith('/'));
    const byName = new Map(entries.map((e) => [e.name, e]));
    const fail = (what: string, version = '(unknown version)'): never => {
      throw new PexError(
        `The pex runtime wheel ${wheelFilename} (pex ${version}, at ${pexWheelPath}) is not usable: ${what}. ` +
          `Use the pinned pex ${PINNED_PEX.version} wheel (${PINNED_PEX.filename}).`,
      );
    };
    const text = async (name: string, version?: string): Promise<string> => {
      const e = byName.get(name);
      if (!e) return fail(`it has no ${name}`, version);
      return (await readZipEntry(zf, e.entry)).toString('utf8');
    };

    const versionPy = await text('pex/version.py');
    const version = /^__version__\s*=\s*["']([^"']+)["']/m.exec(versionPy)?.[1] ?? fail('pex/version.py has no __version__');

    const pexBootPy = (await text('pex/pex_boot.py', version)).replace(/\r\n?/g, '\n');
    const boot = parseBootParameters(pexBootPy) ?? fail('pex/pex_boot.py has no def boot(...)', version);
    const unknown = boot.names.filter((n) => !KNOWN_BOOT_PARAMETERS.has(n));
    if (unknown.length > 0 || boot.names.length === 0) {
      fail(`its boot() takes parameters this writer cannot fill: ${unknown.join(', ') || '(none)'}`, version);
    }
    if (boot.returns !== 'Tuple[Any, bool, bool]') {
      fail(`its boot() returns ${boot.returns ?? '(undeclared)'}, not (result, should_exit, is_globals)`, version);
    }

    // The selection rules live in pex_builder.py; read them from this very release.
    const builderPy = await text('pex/pex_builder.py', version);
    const rootNamesText = /root_module_names\s*=\s*\[([^\]]*)\]/.exec(builderPy)?.[1];
    const packagesText = /bootstrap_packages\s*=\s*\[([^\]]*)\]/.exec(builderPy)?.[1];
    const toolsText = /bootstrap_packages\.extend\(\s*\[([^\]]*)\]\s*\)/.exec(builderPy)?.[1];
    const pkgResourcesRule = /vendor_spec\.key\s*==\s*"setuptools"\s*:\s*\n\s*root_module_names\.append\("pkg_resources"\)/.test(
      builderPy,
    );
    if (!rootNamesText || !packagesText || !toolsText || !pkgResourcesRule) {
      fail('pex/pex_builder.py does not select the bootstrap the way this writer understands', version);
    }
    const rootNames = new Set(parsePyStringList(rootNamesText!));
    const hasEntryUnder = (prefix: string) => entries.some((e) => e.name.startsWith(prefix));
    if (hasEntryUnder(`${VENDORED}setuptools/`)) rootNames.add('pkg_resources');
    const bootstrapPackages = parsePyStringList(packagesText!);
    const toolPackages = parsePyStringList(toolsText!);

    // 1. The vendored runtime subset (pex.vendor.vendor_runtime).
    const vendored = new Map<string, { compress: boolean }>(); // wheel path -> how it is written
    const specDirs = [
      ...new Set(entries.filter((e) => e.name.startsWith(VENDORED)).map((e) => e.name.slice(VENDORED.length).split('/'))
        .filter((parts) => parts.length > 1).map((parts) => parts[0]!)),
    ].sort(pyCompare);
    const found = new Set<string>();
    for (const spec of specDirs) {
      const specPrefix = `${VENDORED}${spec}/`;
      const under = entries.filter((e) => e.name.startsWith(specPrefix)).map((e) => e.name.slice(specPrefix.length));
      const packages = new Set(under.filter((r) => r.includes('/')).map((r) => r.split('/')[0]!).filter((d) => rootNames.has(d)));
      const modules = under.filter((r) => !r.includes('/') && rootNames.has(r.slice(0, -3)));
      if (packages.size === 0 && modules.length === 0) continue;
      for (const init of ['pex/__init__.py', 'pex/vendor/__init__.py', `${VENDORED}__init__.py`, `${specPrefix}__init__.py`]) {
        if (!vendored.has(init)) vendored.set(init, { compress: byName.has(init) });
      }
      for (const p of packages) found.add(p);
      for (const m of modules) found.add(m.slice(0, -3));
      for (const rel of under) {
        const parts = rel.split('/');
        const selected = parts.length === 1 ? modules.includes(rel) : packages.has(parts[0]!);
        if (!selected || isPycPath(rel)) continue;
        const name = specPrefix + rel;
        if (!vendored.has(name)) vendored.set(name, { compress: true });
      }
    }
    const missing = [...rootNames].filter((n) => !found.has(n));
    if (missing.length > 0) fail(`its vendored code lacks ${missing.join(', ')}`, version);

    // 2. pex's own code: top-level files plus the bootstrap packages, walked top-down with
    // files before sub-directories, both sorted (pex.common.deterministic_walk).
    const walkOrder = (packages: string[]): string[] => {
      const out: string[] = [];
      const walk = (dir: string) => {
        const files: string[] = [];
        const dirs = new Set<string>();
        for (const e of entries) {
          if (!e.name.startsWith(dir)) continue;
          const rest = e.name.slice(dir.length).split('/');
          if (rest.length === 1) files.push(rest[0]!);
          else dirs.add(rest[0]!);
        }
        for (const f of files.sort(pyCompare)) if (!isPycFile(f)) out.push(dir + f);
        const subdirs = dir === 'pex/' ? [...packages].sort(pyCompare) : [...dirs].sort(pyCompare);
        for (const d of subdirs) {
          if (dir === 'pex/' && !dirs.has(d)) fail(`it has no pex/${d}/ package`, version);
          walk(`${dir}${d}/`);
        }
      };
      walk('pex/');
      return out.filter((name) => !vendored.has(name));
    };

    // Each file is read once, however many bootstraps hold it. A file the wheel holds deflated
    // keeps those deflated bytes (the wheel is pinned by its sha256, so they are fixed); any
    // other is deflated here.
    const data = new Map<string, { data: Buffer; crc32: number; deflated: Buffer }>();
    const load = async (name: string) => {
      let loaded = data.get(name);
      if (!loaded) {
        const e = byName.get(name);
        const stored = e ? await readZipEntry(zf, e.entry, true) : Buffer.alloc(0);
        const deflatedInWheel = e?.entry.compressionMethod === 8;
        const buf = deflatedInWheel ? inflateRawSync(stored) : stored;
        const crc = crc32(buf) >>> 0;
        if (e && crc !== e.entry.crc32 >>> 0) fail(`${name} does not match its CRC-32`, version);
        loaded = { data: buf, crc32: crc, deflated: deflatedInWheel ? stored : deflateRawSync(buf) };
        data.set(name, loaded);
      }
      return loaded;
    };
    const isExecutable = (name: string) => {
      const e = byName.get(name);
      return e ? ((e.entry.externalFileAttributes >>> 16) & 0o111) !== 0 : false;
    };

    const vendoredFiles: RuntimeFile[] = [];
    for (const [name, how] of vendored) {
      const loaded = await load(name);
      vendoredFiles.push({
        path: `${BOOTSTRAP_DIR}/${name}`,
        data: loaded.data,
        crc32: loaded.crc32,
        ...(how.compress ? { deflated: loaded.deflated } : {}),
        // Copied files keep the installed file's mode; pex creates missing markers as empty files.
        executable: how.compress && isExecutable(name),
        compress: how.compress,
      });
    }
    const build = async (packages: string[]): Promise<RuntimeBootstrap> => {
      const digest = createHash('sha1');
      const own: RuntimeFile[] = [];
      for (const name of walkOrder(packages)) {
        const loaded = await load(name);
        digest.update(loaded.data);
        // pex writes its own files with a plain open(..., "wb"): never executable.
        own.push({ path: `${BOOTSTRAP_DIR}/${name}`, ...loaded, executable: false, compress: true });
      }
      return { files: [...vendoredFiles, ...own], hash: digest.digest('hex') };
    };
    const bootstrap = await build(bootstrapPackages);
    const bootstrapWithTools = await build([...bootstrapPackages, ...toolPackages]);

    return { version, wheelSha256, wheelFilename, bootParameters: boot.names, pexBootPy, bootstrap, bootstrapWithTools };
  } finally {
    zf.close();
  }
}

/**
 * Prepared runtimes on disk: `NXPEXRT1`, the header's length (u32 LE), the header (JSON), then
 * every distinct file's bytes followed by its deflated bytes. The header names the sha256 of
 * everything after it, so a damaged file is noticed and prepared again.
 */
const CACHE_FORMAT = 'v2';
const CACHE_MAGIC = Buffer.from('NXPEXRT1', 'latin1');

interface CachedFile {
  path: string;
  blob: number;
  executable: boolean;
  compress: boolean;
}

interface CacheHeader {
  format: string;
  bodySha256: string;
  version: string;
  wheelSha256: string;
  bootParameters: string[];
  pexBootPy: string;
  /** Per distinct file: its size, CRC-32 and deflated size. */
  blobs: Array<[size: number, crc32: number, deflatedSize: number]>;
  bootstrap: { hash: string; files: CachedFile[] };
  bootstrapWithTools: { hash: string; files: CachedFile[] };
}

function serializeRuntime(runtime: PexRuntime): Buffer {
  const blobIndex = new Map<Buffer, number>();
  const blobs: CacheHeader['blobs'] = [];
  const parts: Buffer[] = [];
  const encode = (b: RuntimeBootstrap) => ({
    hash: b.hash,
    files: b.files.map((f): CachedFile => {
      let blob = blobIndex.get(f.data);
      if (blob === undefined) {
        blob = blobs.length;
        blobIndex.set(f.data, blob);
        const deflated = f.deflated ?? deflateRawSync(f.data);
        blobs.push([f.data.length, f.crc32, deflated.length]);
        parts.push(f.data, deflated);
      }
      return { path: f.path, blob, executable: f.executable, compress: f.compress };
    }),
  });
  const bootstrap = encode(runtime.bootstrap);
  const bootstrapWithTools = encode(runtime.bootstrapWithTools);
  const body = Buffer.concat(parts);
  const header: CacheHeader = {
    format: CACHE_FORMAT,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    version: runtime.version,
    wheelSha256: runtime.wheelSha256,
    bootParameters: runtime.bootParameters,
    pexBootPy: runtime.pexBootPy,
    blobs,
    bootstrap,
    bootstrapWithTools,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length, 0);
  return Buffer.concat([CACHE_MAGIC, length, json, body]);
}

function deserializeRuntime(file: Buffer, wheelSha256: string, wheelFilename: string): PexRuntime | undefined {
  if (file.length < 12 || !file.subarray(0, 8).equals(CACHE_MAGIC)) return undefined;
  const headerEnd = 12 + file.readUInt32LE(8);
  if (headerEnd > file.length) return undefined;
  const header = JSON.parse(file.subarray(12, headerEnd).toString('utf8')) as CacheHeader;
  if (header.format !== CACHE_FORMAT || header.wheelSha256 !== wheelSha256) return undefined;
  const body = file.subarray(headerEnd);
  if (createHash('sha256').update(body).digest('hex') !== header.bodySha256) return undefined;
  const blobs: Array<{ data: Buffer; crc32: number; deflated: Buffer }> = [];
  let p = 0;
  for (const [size, crc, deflatedSize] of header.blobs) {
    if (p + size + deflatedSize > body.length) return undefined;
    blobs.push({ data: body.subarray(p, p + size), crc32: crc, deflated: body.subarray(p + size, p + size + deflatedSize) });
    p += size + deflatedSize;
  }
  if (p !== body.length) return undefined;
  const decode = (b: CacheHeader['bootstrap']): RuntimeBootstrap => ({
    hash: b.hash,
    files: b.files.map((f) => {
      const blob = blobs[f.blob];
      if (!blob) throw new Error(`blob ${f.blob} missing`);
      return { path: f.path, data: blob.data, crc32: blob.crc32, executable: f.executable, compress: f.compress, ...(f.compress ? { deflated: blob.deflated } : {}) };
    }),
  });
  return {
    version: header.version,
    wheelSha256,
    wheelFilename,
    bootParameters: header.bootParameters,
    pexBootPy: header.pexBootPy,
    bootstrap: decode(header.bootstrap),
    bootstrapWithTools: decode(header.bootstrapWithTools),
  };
}

/** A prepared runtime from the cache, or undefined when there is none or it is damaged. */
async function readRuntimeCache(path: string, wheelSha256: string, wheelFilename: string): Promise<PexRuntime | undefined> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch {
    return undefined;
  }
  try {
    return deserializeRuntime(file, wheelSha256, wheelFilename);
  } catch {
    return undefined;
  }
}

/** Keeps a prepared runtime for the next build; best effort (a read-only cache only costs time). */
async function writeRuntimeCache(path: string, runtime: PexRuntime): Promise<void> {
  await tryWriteFileAtomic(path, serializeRuntime(runtime), { mkdir: true });
}
