/**
 * The PEX writer: PEX-INFO and its hashes, `__main__.py` / `__pex__/__init__.py` from the
 * runtime's `pex_boot.py`, and the zipapp container, written atomically.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { PexError, UserError } from './errors';
import { pyCompare, pyJsonDumps, pyReprBool, pyReprStr, pyReprTuple, pySorted, type JsonValue } from './python';
import { isPycFile, type PexRuntime } from './runtime';
import { writeZipapp, type ZipItem } from './zipapp';

export interface PexDependency {
  /** The original wheel file name; the key in PEX-INFO `distributions`. */
  filename: string;
  /** The wheel on disk (a store file). */
  path: string;
  /** sha256 hex of the wheel; checked while the wheel is copied into the PEX. */
  sha256: string;
}

export interface PexSource {
  /** posix path inside the PEX, e.g. `service_a/main.py`. */
  path: string;
  absPath: string;
}

export interface PexOptions {
  runtime: PexRuntime;
  /** Written as `.deps/<filename>`, stored (never recompressed); fingerprint = sha256. */
  dependencies: PexDependency[];
  sources: PexSource[];
  /** Root requirements, written sorted (pass pex's normalised form for byte parity with pex). */
  requirements: string[];
  /** `module` or `module:func`. */
  entryPoint?: string;
  /** The full `#!` line (with or without `#!`); defaults to `#!/usr/bin/env python3`. */
  shebang?: string;
  interpreterConstraints?: string[];
  layout?: 'zipapp';
  /** Deflate sources, PEX-INFO and the bootstrap (default true). `.deps` wheels are always stored. */
  compress?: boolean;
  /** The `pex_root` baked into the `boot()` call; default `~/.cache/pex` as pex on Linux. */
  pexRoot?: string;
  /**
   * Like pex's `--runtime-pex-root`: written to PEX-INFO `pex_root` and used for `boot()`
   * (takes precedence over `pexRoot`).
   */
  runtimePexRoot?: string;
  includeTools?: boolean;
  /** Merged with `{pex_version}` (which always wins, as in pex). */
  buildProperties?: Record<string, string>;
}

export interface PexResult {
  pexInfo: Record<string, unknown>;
  pexHash: string;
  codeHash: string;
  bootstrapHash: string;
  bytes: number;
}

export const DEFAULT_SHEBANG = '#!/usr/bin/env python3';
export const DEFAULT_PEX_ROOT = '~/.cache/pex';

const RESERVED_TOP = new Set(['.bootstrap', '.deps', '__pex__']);
const RESERVED_FILES = new Set(['PEX-INFO', '__main__.py']);
const IDENT = String.raw`[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*`;
const ENTRY_POINT = new RegExp(`^${IDENT}(\\.${IDENT})*(:${IDENT}(\\.${IDENT})*)?$`, 'u');

/** An interpreter constraint as pex writes it: implementation prefix + sorted specifiers. */
export function normalizeInterpreterConstraint(constraint: string): string {
  const m = /^([A-Za-z]*)(.*)$/s.exec(constraint.trim())!;
  const specs = new Set(
    m[2]!
      .split(',')
      .map((s) => s.replace(/\s+/g, ''))
      .filter((s) => s !== ''),
  );
  return m[1]! + pySorted(specs).join(',');
}

function isPycDirMember(path: string): boolean {
  return path.split('/').slice(0, -1).includes('__pycache__');
}

function validateSourcePath(path: string): void {
  const parts = path.split('/');
  const bad =
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..') ||
    RESERVED_TOP.has(parts[0]!) ||
    (parts.length === 1 && RESERVED_FILES.has(path));
  if (bad) {
    throw new PexError(
      `Source path '${path}' cannot be placed in a PEX: it must be a relative posix path without '.'/'..' ` +
        `segments and must not be PEX-INFO, __main__.py or under .bootstrap/, .deps/ or __pex__/.`,
    );
  }
}

async function streamInto(path: string, what: string, hashes: Hash[]): Promise<void> {
  try {
    for await (const chunk of createReadStream(path)) for (const h of hashes) h.update(chunk as Buffer);
  } catch (e) {
    throw new UserError(`Cannot read ${what} (${path}): ${(e as Error).message}`);
  }
}

interface PreparedSource {
  path: string;
  absPath: string;
  size: number;
  executable: boolean;
  sha256: string;
}

async function prepareSources(sources: readonly PexSource[]): Promise<{ files: PreparedSource[]; codeHash: string }> {
  const seen = new Set<string>();
  const files: Array<Omit<PreparedSource, 'sha256'>> = [];
  for (const s of sources) {
    validateSourcePath(s.path);
    if (seen.has(s.path)) throw new PexError(`Source path '${s.path}' is given twice (last from ${s.absPath}).`);
    seen.add(s.path);
    // pex never packs bytecode (without --compile) nor anything under __pycache__ from -D.
    if (isPycFile(s.path) || isPycDirMember(s.path)) continue;
    let st;
    try {
      st = await stat(s.absPath);
    } catch (e) {
      throw new UserError(`Cannot read source ${s.path} (${s.absPath}): ${(e as Error).message}`);
    }
    if (!st.isFile()) throw new UserError(`Source ${s.path} (${s.absPath}) is not a regular file.`);
    files.push({ path: s.path, absPath: s.absPath, size: st.size, executable: (st.mode & 0o111) !== 0 });
  }
  // code_hash: pex's sha1 dir hash over the user code; files whose basename starts with '.' are
  // packed but not hashed (a pex quirk kept for parity).
  const hashed = files
    .filter((f) => !posix.basename(f.path).startsWith('.'))
    .sort((a, b) => pyCompare(a.path, b.path));
  const code = createHash('sha1');
  code.update(Buffer.from(hashed.map((f) => f.path).join(''), 'utf8'));
  const sha256s = new Map<string, string>();
  for (const f of hashed) {
    const h = createHash('sha256');
    await streamInto(f.absPath, `source ${f.path}`, [code, h]);
    sha256s.set(f.path, h.digest('hex'));
  }
  for (const f of files) {
    if (sha256s.has(f.path)) continue;
    const h = createHash('sha256');
    await streamInto(f.absPath, `source ${f.path}`, [h]);
    sha256s.set(f.path, h.digest('hex'));
  }
  return { files: files.map((f) => ({ ...f, sha256: sha256s.get(f.path)! })), codeHash: code.digest('hex') };
}

async function prepareDependencies(deps: readonly PexDependency[]): Promise<Array<PexDependency & { size: number }>> {
  const seen = new Set<string>();
  const out: Array<PexDependency & { size: number }> = [];
  for (const d of deps) {
    if (!/^[^/\\\0]+\.whl$/.test(d.filename) || d.filename.startsWith('.')) {
      throw new PexError(`Dependency file name '${d.filename}' is not a wheel file name (${d.path}).`);
    }
    if (!/^[0-9a-fA-F]{64}$/.test(d.sha256)) {
      throw new PexError(`Dependency ${d.filename} has an invalid sha256 '${d.sha256}'.`);
    }
    if (seen.has(d.filename)) throw new PexError(`Dependency ${d.filename} is given twice.`);
    seen.add(d.filename);
    let st;
    try {
      st = await stat(d.path);
    } catch (e) {
      throw new UserError(`Cannot read dependency ${d.filename} (${d.path}): ${(e as Error).message}`);
    }
    if (!st.isFile()) throw new UserError(`Dependency ${d.filename} (${d.path}) is not a regular file.`);
    out.push({ ...d, sha256: d.sha256.toLowerCase(), size: st.size });
  }
  return out;
}

/** The `boot(...)` call appended to `pex_boot.py`, with one keyword per parameter of the runtime's `boot()`. */
export function renderBootCall(parameters: readonly string[], values: Record<string, string>): string {
  const lines = parameters.map((p) => {
    const v = values[p];
    if (v === undefined) throw new PexError(`The pex runtime's boot() takes '${p}', which this writer cannot fill.`);
    return `    ${p}=${v},\n`;
  });
  return (
    '\nresult, should_exit, is_globals = boot(\n' +
    lines.join('') +
    ')\nif should_exit:\n    sys.exit(0 if is_globals else result)\nelif is_globals:\n    globals().update(result)\n'
  );
}

function buildPexInfo(o: {
  bootstrapHash: string;
  codeHash: string;
  buildProperties: Record<string, string>;
  distributions: Record<string, string>;
  entryPoint?: string;
  includesTools: boolean;
  interpreterConstraints: string[];
  requirements: string[];
  runtimePexRoot?: string;
}): { [key: string]: JsonValue } {
  // The keys and defaults pex's CLI writes for a `--no-pre-install-wheels` zipapp.
  const info: { [key: string]: JsonValue } = {
    bind_resource_paths: {},
    bootstrap_hash: o.bootstrapHash,
    build_properties: o.buildProperties,
    code_hash: o.codeHash,
    deps_are_wheel_files: true,
    distributions: o.distributions,
    emit_warnings: true,
    excluded: [],
    ignore_errors: false,
    includes_tools: o.includesTools,
    inherit_path: 'false',
    inject_args: [],
    inject_env: {},
    inject_python_args: [],
    interpreter_constraints: o.interpreterConstraints,
    interpreter_selection_strategy: 'oldest',
    max_install_jobs: 1,
    overridden: [],
    pex_path: '',
    pex_paths: [],
    requirements: o.requirements,
    strip_pex_env: true,
    venv: false,
    venv_bin_path: 'false',
    venv_copies: false,
    venv_hermetic_scripts: true,
    venv_site_packages_copies: false,
    venv_system_site_packages: false,
  };
  if (o.entryPoint !== undefined) info.entry_point = o.entryPoint;
  if (o.runtimePexRoot !== undefined) info.pex_root = o.runtimePexRoot;
  return info;
}

/** Builds a PEX at `outputPath`, atomically: either the complete file appears or nothing does. */
export async function writePex(outputPath: string, options: PexOptions): Promise<PexResult> {
  const { runtime } = options;
  const layout = options.layout ?? 'zipapp';
  if (layout !== 'zipapp') {
    throw new PexError(`PEX layout '${String(layout)}' is not supported by this writer; use 'zipapp'.`);
  }
  let shebang = options.shebang ?? DEFAULT_SHEBANG;
  if (!shebang.startsWith('#!')) shebang = `#!${shebang}`;
  if (/[\r\n\0]/.test(shebang) || shebang.trim() === '#!') {
    throw new PexError(`The shebang ${JSON.stringify(shebang)} must be one non-empty line.`);
  }
  if (options.entryPoint !== undefined && !ENTRY_POINT.test(options.entryPoint)) {
    throw new PexError(`Entry point '${options.entryPoint}' is not 'module' or 'module:function'.`);
  }
  const compress = options.compress ?? true;
  const includeTools = options.includeTools ?? false;
  const bootstrap = includeTools ? runtime.bootstrapWithTools : runtime.bootstrap;

  const deps = await prepareDependencies(options.dependencies);
  const sources = await prepareSources(options.sources);
  const interpreterConstraints = pySorted(new Set((options.interpreterConstraints ?? []).map(normalizeInterpreterConstraint)));

  const distributions: Record<string, string> = {};
  for (const d of deps) distributions[d.filename] = d.sha256;
  const info = buildPexInfo({
    bootstrapHash: bootstrap.hash,
    codeHash: sources.codeHash,
    buildProperties: { ...(options.buildProperties ?? {}), pex_version: runtime.version },
    distributions,
    entryPoint: options.entryPoint,
    includesTools: includeTools,
    interpreterConstraints,
    requirements: pySorted(new Set(options.requirements)),
    runtimePexRoot: options.runtimePexRoot,
  });
  const pexHash = createHash('sha1').update(pyJsonDumps(info), 'utf8').digest('hex');
  info.pex_hash = pexHash;
  const pexInfoJson = pyJsonDumps(info);

  const bootCall = renderBootCall(runtime.bootParameters, {
    bootstrap_dir: pyReprStr('.bootstrap'),
    pex_root: pyReprStr(options.runtimePexRoot ?? options.pexRoot ?? DEFAULT_PEX_ROOT),
    pex_hash: pyReprStr(pexHash),
    // Not a venv PEX and inherit_path "false": hermetic.
    hermetic_boot: pyReprBool(true),
    hermetic_venv_scripts: pyReprBool(true),
    has_interpreter_constraints: pyReprBool(interpreterConstraints.length > 0),
    pex_path: pyReprTuple([]),
    is_venv: pyReprBool(false),
    inject_python_args: pyReprTuple([]),
  });
  const boot = `${runtime.pexBootPy}\n${bootCall}`;
  const mainPy = `${shebang}\n\n${boot}`;

  const items: ZipItem[] = [
    ...bootstrap.files.map((f) => ({
      path: f.path,
      executable: f.executable,
      compress: compress && f.compress,
      source: { kind: 'buffer' as const, data: f.data },
    })),
    ...deps.map((d) => ({
      path: `.deps/${d.filename}`,
      executable: false,
      compress: false,
      source: { kind: 'file' as const, path: d.path, size: d.size, sha256: d.sha256, what: `dependency ${d.filename}` },
    })),
    { path: 'PEX-INFO', executable: false, compress, source: { kind: 'buffer', data: Buffer.from(pexInfoJson, 'utf8') } },
    { path: '__main__.py', executable: true, compress, source: { kind: 'buffer', data: Buffer.from(mainPy, 'utf8') } },
    { path: '__pex__/__init__.py', executable: false, compress, source: { kind: 'buffer', data: Buffer.from(boot, 'utf8') } },
    ...sources.files.map((s) => ({
      path: s.path,
      executable: s.executable,
      compress,
      source: { kind: 'file' as const, path: s.absPath, size: s.size, sha256: s.sha256, what: `source ${s.path}` },
    })),
  ];

  const outDir = dirname(outputPath);
  try {
    await mkdir(outDir, { recursive: true });
  } catch (e) {
    throw new UserError(`Cannot create the output directory ${outDir}: ${(e as Error).message}`);
  }
  const tmpPath = join(outDir, `.${basename(outputPath)}.${randomBytes(6).toString('hex')}.tmp`);
  let bytes: number;
  try {
    bytes = await writeZipapp(tmpPath, outputPath, Buffer.from(`${shebang}\n`, 'utf8'), items);
    await chmod(tmpPath, 0o755);
    await rename(tmpPath, outputPath);
  } catch (e) {
    await unlink(tmpPath).catch(() => undefined);
    if (e instanceof UserError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code && err.syscall) throw new UserError(`Cannot write ${outputPath}: ${err.message}`);
    throw e;
  }
  await syncDir(outDir);

  return {
    pexInfo: JSON.parse(pexInfoJson) as Record<string, unknown>,
    pexHash,
    codeHash: sources.codeHash,
    bootstrapHash: bootstrap.hash,
    bytes,
  };
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Directory fsync is best effort (not every filesystem allows it).
  }
}
