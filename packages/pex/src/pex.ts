/**
 * The PEX writer: PEX-INFO and its hashes, `__main__.py` / `__pex__/__init__.py` from the
 * runtime's `pex_boot.py`, and the zipapp container, written atomically.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { PexError, UserError } from './errors';
import { pyCompare, pyJsonDumps, pyReprBool, pyReprStr, pyReprTuple, pySorted, type JsonValue } from './python';
import { isPycFile, isPycPath, type PexRuntime } from './runtime';
import { installWheelChroot, readWheel, walkOrder, type EntryPoint, type WheelContents } from './install';
import { hasIdentity, syncDir, type FileIdentity } from '@nx-pex/fs';
import { changedError, readFileSource, writeZipapp, zip64Error, type ZipItem, type ZipSource } from './zipapp';
import { assertInside, checkReplaceable, moveIntoPlace, sweepStaleTemps, tempPathFor, untrack } from './output';

export interface PexDependency {
  /** The original wheel file name; the key in PEX-INFO `distributions`. */
  filename: string;
  /** The wheel on disk (a store file). */
  path: string;
  /** sha256 hex of the wheel; checked as the wheel is read (for its contents or to copy it into the PEX). */
  sha256: string;
  /**
   * The file was verified against `sha256` when it entered a content-addressed store and is
   * not checked again (only its size); copying it then costs no more than the copy itself.
   */
  trusted?: boolean;
  /**
   * With `trusted`: the file's identity when the store last verified it. The sha256 is then
   * skipped only while the file still has it; a file that changed since is hashed as it is read.
   */
  identity?: FileIdentity;
  /** The size the lock and the store record; a file of another size is refused. */
  size?: number;
}

export interface PexSource {
  /** posix path inside the PEX, e.g. `service_a/main.py`. */
  path: string;
  absPath: string;
}

export type PexLayout = 'zipapp' | 'packed' | 'loose';
export type InheritPath = 'false' | 'prefer' | 'fallback';
export type VenvBinPath = 'false' | 'prepend' | 'append';

/** The options of a PEX build; pex's CLI flag for each is named in its comment. */
export interface PexOptions {
  runtime: PexRuntime;
  /** The distributions, as wheel files; see `preInstallWheels` for how they are written. */
  dependencies: PexDependency[];
  sources: PexSource[];
  /** Root requirements, written sorted (pass pex's normalised form for byte parity with pex). */
  requirements: string[];
  /** `-e`: `module` or `module:func`. */
  entryPoint?: string;
  /**
   * `-c`: a console script of any distribution in the PEX (written as `entry_point`, as pex
   * does), else a distribution script from `.data/scripts` (PEX-INFO `script`).
   */
  script?: string;
  /** `--python-shebang`: the full `#!` line (with or without `#!`); defaults to `#!/usr/bin/env python3`. */
  shebang?: string;
  /** `--interpreter-constraint`. */
  interpreterConstraints?: string[];
  /** `--layout`: a file for zipapp, a directory for packed and loose (default zipapp). */
  layout?: PexLayout;
  /**
   * `--pre-install-wheels`: write each wheel as pex's installed chroot (pex's default). Default
   * false: wheels as they came (`--no-pre-install-wheels`), stored, fingerprint = sha256.
   */
  preInstallWheels?: boolean;
  /** `--compress` / `--no-compress` (default true). Wheel files in `.deps` are always stored. */
  compress?: boolean;
  /** The `pex_root` baked into the `boot()` call; default `~/.cache/pex` as pex on Linux. */
  pexRoot?: string;
  /** `--runtime-pex-root`: written to PEX-INFO `pex_root` and used for `boot()` (wins over `pexRoot`). */
  runtimePexRoot?: string;
  /** `--include-tools`; implied by `venv`. */
  includeTools?: boolean;
  /** `--build-property`; merged with `{pex_version}` (which always wins, as in pex). */
  buildProperties?: Record<string, string>;
  /** `--inject-args` (already split into words). */
  injectArgs?: string[];
  /** `--inject-env KEY=VALUE`. */
  injectEnv?: Record<string, string>;
  /** `--inject-python-args` (already split into words). */
  injectPythonArgs?: string[];
  /** `--inherit-path` (default 'false'). */
  inheritPath?: InheritPath;
  /** `--strip-pex-env` / `--no-strip-pex-env` (default true). */
  stripPexEnv?: boolean;
  /** `--emit-warnings` / `--no-emit-warnings` (default true). */
  emitWarnings?: boolean;
  /** `--ignore-errors` (default false). */
  ignoreErrors?: boolean;
  /** `--max-install-jobs` (default 1; 0 = one per CPU, -1 = pex decides). */
  maxInstallJobs?: number;
  /** `--venv`: run from a virtualenv created at first run (needs tools). */
  venv?: boolean;
  /** `--venv prepend|append`: put the venv's bin dir on PATH (only with `venv`). */
  venvBinPath?: VenvBinPath;
  /** `--venv-copies`. */
  venvCopies?: boolean;
  /** `--venv-site-packages-copies`. */
  venvSitePackagesCopies?: boolean;
  /** `--venv-system-site-packages`. */
  venvSystemSitePackages?: boolean;
  /** `--venv-hermetic-scripts` / `--no-venv-hermetic-scripts` (default true). */
  venvHermeticScripts?: boolean;
  /** `--validate-entry-point`: check at build time that the entry point's module (and attribute) exist. */
  validateEntryPoint?: boolean;
  /** `--pex-path`: other PEXes merged at run time (PEX-INFO `pex_paths` and `pex_path`). */
  pexPath?: string[];
  /** `--bind-resource-path ENV=rel/path`. */
  bindResourcePaths?: Record<string, string>;
  /** `--interpreter-selection-strategy` (default 'oldest'). */
  interpreterSelectionStrategy?: 'oldest' | 'newest';
  /** `--preamble-file` contents: written on the second line of `__main__.py`. */
  preamble?: string;
  /**
   * Where the output is written before it is moved into place (not a pex option). Default: the
   * output's directory. Give a directory outside what a build system caches, on the same
   * filesystem, so that a killed build leaves nothing among the outputs.
   */
  tmpDir?: string;
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
function normalizeInterpreterConstraint(constraint: string): string {
  const m = /^([A-Za-z]*)(.*)$/s.exec(constraint.trim())!;
  const specs = new Set(
    m[2]!
      .split(',')
      .map((s) => s.replace(/\s+/g, ''))
      .filter((s) => s !== ''),
  );
  return m[1]! + pySorted(specs).join(',');
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
  const tooLong = parts.find((p) => Buffer.byteLength(p, 'utf8') > 255);
  if (tooLong !== undefined || Buffer.byteLength(path, 'utf8') > 4095) {
    throw new PexError(
      `Source path '${path}' is too long to be written on Linux (a name over 255 bytes or a path over 4095 bytes): ` +
        `pex cannot build it either; shorten the file name.`,
    );
  }
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

interface ListedSource extends PexSource {
  size: number;
  executable: boolean;
}

interface PreparedSource extends ListedSource {
  sha256: string;
}

/** The sources that go into the PEX (bytecode dropped), checked and sized, not yet read. */
async function listSources(sources: readonly PexSource[]): Promise<ListedSource[]> {
  const seen = new Set<string>();
  const files: ListedSource[] = [];
  for (const s of sources) {
    validateSourcePath(s.path);
    if (seen.has(s.path)) throw new PexError(`Source path '${s.path}' is given twice (last from ${s.absPath}).`);
    seen.add(s.path);
    // pex never packs bytecode (without --compile) nor anything under __pycache__ from -D.
    if (isPycPath(s.path)) continue;
    let st;
    try {
      st = await stat(s.absPath);
    } catch (e) {
      throw new UserError(`Cannot read source ${s.path} (${s.absPath}): ${(e as Error).message}`);
    }
    if (!st.isFile()) throw new UserError(`Source ${s.path} (${s.absPath}) is not a regular file.`);
    files.push({ path: s.path, absPath: s.absPath, size: st.size, executable: (st.mode & 0o111) !== 0 });
  }
  return files;
}

async function prepareSources(sources: readonly PexSource[]): Promise<{ files: PreparedSource[]; codeHash: string }> {
  const files = await listSources(sources);
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
    if (d.size !== undefined && st.size !== d.size) {
      throw changedError(`dependency ${d.filename}`, d.path, `it is ${st.size} bytes, but the lock says ${d.size}`);
    }
    out.push({ ...d, sha256: d.sha256.toLowerCase(), size: st.size });
  }
  return out;
}

/** Reads each wheel once: its bytes (checked like any file source: size, and sha256 unless trusted) and its contents. */
async function readWheels(deps: ReadonlyArray<PexDependency & { size: number }>): Promise<Array<{ bytes: Buffer; wheel: WheelContents }>> {
  const out: Array<{ bytes: Buffer; wheel: WheelContents }> = [];
  for (const d of deps) {
    const bytes = await readFileSource(dependencySource(d));
    out.push({ bytes, wheel: await readWheel(bytes, d.path, d.filename) });
  }
  return out;
}

/** A dependency as a file the zip writer copies: trusted store files are not hashed again. */
function dependencySource(d: PexDependency & { size: number }): Extract<ZipSource, { kind: 'file' }> {
  const sha256 = d.trusted && !d.identity ? undefined : d.sha256;
  return { kind: 'file', path: d.path, size: d.size, sha256, identity: d.trusted ? d.identity : undefined, what: `dependency ${d.filename}` };
}

/** The `boot(...)` call appended to `pex_boot.py`, with one keyword per parameter of the runtime's `boot()`. */
function renderBootCall(parameters: readonly string[], values: Record<string, string>): string {
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

interface ResolvedEntry {
  entryPoint?: string;
  script?: string;
}

function checkOptions(o: PexOptions): void {
  const oneOf = (name: string, value: unknown, allowed: readonly unknown[]) => {
    if (value !== undefined && !allowed.includes(value)) {
      throw new PexError(`${name} must be one of ${allowed.map((a) => `'${String(a)}'`).join(', ')}, got '${String(value)}'.`);
    }
  };
  oneOf('layout', o.layout, ['zipapp', 'packed', 'loose']);
  oneOf('inheritPath', o.inheritPath, ['false', 'prefer', 'fallback']);
  oneOf('venvBinPath', o.venvBinPath, ['false', 'prepend', 'append']);
  oneOf('interpreterSelectionStrategy', o.interpreterSelectionStrategy, ['oldest', 'newest']);
  if (o.entryPoint !== undefined && o.script !== undefined) {
    throw new PexError(`Give either an entry point ('${o.entryPoint}') or a script ('${o.script}'), not both: pex's -e and -c are mutually exclusive.`);
  }
  if (o.entryPoint !== undefined && !ENTRY_POINT.test(o.entryPoint)) {
    throw new PexError(`Entry point '${o.entryPoint}' is not 'module' or 'module:function'.`);
  }
  if (o.script !== undefined && (o.script === '' || /[/\\\0]/.test(o.script))) {
    throw new PexError(`Script '${o.script}' is not a script name.`);
  }
  if (o.validateEntryPoint && o.entryPoint === undefined) {
    throw new PexError('validateEntryPoint was requested but no entry point was given to validate (pex: --validate-entry-point needs --entry-point).');
  }
  if (o.venv && o.includeTools === false) {
    throw new PexError('The venv execution mode needs the pex tools in the PEX: drop includeTools: false (venv implies --include-tools).');
  }
  if (!o.venv && o.venvBinPath !== undefined && o.venvBinPath !== 'false') {
    throw new PexError(`venvBinPath '${o.venvBinPath}' only applies to the venv execution mode: set venv: true as well (pex: --venv ${o.venvBinPath}).`);
  }
  if (o.maxInstallJobs !== undefined && !(Number.isSafeInteger(o.maxInstallJobs) && o.maxInstallJobs >= -1)) {
    throw new PexError(`maxInstallJobs must be an integer >= -1 (0 or -1 let pex pick), got ${String(o.maxInstallJobs)}.`);
  }
  for (const [k, v] of Object.entries(o.injectEnv ?? {})) {
    if (k === '' || k.includes('=') || k.includes('\0') || typeof v !== 'string' || v.includes('\0')) {
      throw new PexError(`injectEnv entry ${JSON.stringify(k)}=${JSON.stringify(v)} is not a valid environment variable.`);
    }
  }
  for (const [k, v] of Object.entries(o.bindResourcePaths ?? {})) {
    if (k === '' || k.includes('=') || typeof v !== 'string' || v === '') {
      throw new PexError(`bindResourcePaths entry ${JSON.stringify(k)}=${JSON.stringify(v)} must name an environment variable and a resource path.`);
    }
  }
  for (const p of o.pexPath ?? []) {
    if (p === '' || p.includes(':')) throw new PexError(`pexPath entry '${p}' must be a non-empty path without ':'.`);
  }
  for (const [name, list] of [['injectArgs', o.injectArgs], ['injectPythonArgs', o.injectPythonArgs]] as const) {
    if (list !== undefined && (!Array.isArray(list) || list.some((a) => typeof a !== 'string'))) {
      throw new PexError(`${name} must be a list of strings.`);
    }
  }
}

/** `-c script`: a console script becomes the entry point; else a dist script becomes PEX-INFO `script`. */
function resolveScript(script: string, wheels: readonly WheelContents[]): ResolvedEntry {
  const matches = new Map<string, { wheel: WheelContents; ep: EntryPoint }>();
  for (const w of wheels) {
    const ep = w.consoleScripts.find((e) => e.name === script) ?? w.guiScripts.find((e) => e.name === script);
    if (ep) matches.set(w.projectName.toLowerCase().replace(/[-_.]+/g, '-'), { wheel: w, ep });
  }
  if (matches.size > 1) {
    throw new PexError(
      `Script '${script}' is ambiguous: it is an entry point of ${[...matches.values()].map((m) => m.wheel.filename).join(' and ')}.`,
    );
  }
  const found = [...matches.values()][0];
  if (found) {
    const { ep } = found;
    return { entryPoint: ep.attrs.length > 0 ? `${ep.module}:${ep.attrs.join('.')}` : ep.module };
  }
  if (wheels.some((w) => w.dataScripts.includes(script))) return { script };
  const known = wheels.flatMap((w) => [
    ...[...w.consoleScripts, ...w.guiScripts].map((e) => `${e.name} (${w.projectName} entry point)`),
    ...w.dataScripts.map((s) => `${s} (${w.projectName} script)`),
  ]);
  throw new PexError(
    `Could not find script '${script}' in any distribution of the PEX. ` +
      (known.length > 0 ? `Available: ${known.join(', ')}.` : 'No distribution in the PEX has scripts or console scripts.'),
  );
}

/** A static `--validate-entry-point`: the module must exist among sources or distributions. */
async function validateEntryPoint(entryPoint: string, sources: readonly PexSource[], wheels: readonly WheelContents[]): Promise<void> {
  const [module, attrs] = entryPoint.split(':') as [string, string | undefined];
  const rel = module.split('.').join('/');
  const texts: Array<() => Promise<string>> = [];
  let found = false;
  const consider = (names: Iterable<string>, read: (name: string) => Promise<string>) => {
    for (const name of names) {
      if (name === `${rel}.py` || name === `${rel}/__init__.py`) {
        found = true;
        texts.push(() => read(name));
      } else if (name.startsWith(`${rel}/`) || (name.startsWith(`${rel}.`) && /\.(so|pyd|pyc)$/.test(name))) {
        found = true;
      }
    }
  };
  const byPath = new Map(sources.map((s) => [s.path, s]));
  consider(byPath.keys(), async (n) => (await readFile(byPath.get(n)!.absPath)).toString('utf8'));
  for (const w of wheels) {
    const names = new Map<string, Buffer>();
    for (const e of w.entries) {
      let n = e.name;
      for (const lib of ['purelib', 'platlib']) if (n.startsWith(`${w.dataDir}/${lib}/`)) n = n.slice(`${w.dataDir}/${lib}/`.length);
      names.set(n, e.data);
    }
    consider(names.keys(), async (n) => names.get(n)!.toString('utf8'));
  }
  if (!found) {
    throw new PexError(`Invalid entry point '${entryPoint}': module '${module}' is neither among the PEX's sources nor in any of its distributions.`);
  }
  const attr = attrs?.split('.')[0];
  if (attr === undefined || texts.length === 0) return;
  const word = new RegExp(`(^|[^\\w])${attr.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w])`, 'mu');
  for (const t of texts) if (word.test(await t())) return;
  throw new PexError(`Invalid entry point '${entryPoint}': module '${module}' does not define '${attr}'.`);
}

function buildPexInfo(o: PexOptions, fields: {
  bootstrapHash: string;
  codeHash: string;
  distributions: Record<string, string>;
  entry: ResolvedEntry;
  includesTools: boolean;
  interpreterConstraints: string[];
  depsAreWheelFiles: boolean;
}): { [key: string]: JsonValue } {
  // The keys pex's CLI writes, each with the value its flags give.
  const pexPaths = o.pexPath ?? [];
  const info: { [key: string]: JsonValue } = {
    bind_resource_paths: { ...(o.bindResourcePaths ?? {}) },
    bootstrap_hash: fields.bootstrapHash,
    build_properties: { ...(o.buildProperties ?? {}), pex_version: o.runtime.version },
    code_hash: fields.codeHash,
    deps_are_wheel_files: fields.depsAreWheelFiles,
    distributions: fields.distributions,
    emit_warnings: o.emitWarnings ?? true,
    excluded: [],
    ignore_errors: o.ignoreErrors ?? false,
    includes_tools: fields.includesTools,
    inherit_path: o.inheritPath ?? 'false',
    inject_args: [...(o.injectArgs ?? [])],
    inject_env: { ...(o.injectEnv ?? {}) },
    inject_python_args: [...(o.injectPythonArgs ?? [])],
    interpreter_constraints: fields.interpreterConstraints,
    interpreter_selection_strategy: o.interpreterSelectionStrategy ?? 'oldest',
    max_install_jobs: o.maxInstallJobs ?? 1,
    overridden: [],
    pex_path: pexPaths.join(':'),
    pex_paths: [...pexPaths],
    requirements: pySorted(new Set(o.requirements)),
    strip_pex_env: o.stripPexEnv ?? true,
    venv: o.venv ?? false,
    venv_bin_path: o.venvBinPath ?? 'false',
    venv_copies: o.venvCopies ?? false,
    venv_hermetic_scripts: o.venvHermeticScripts ?? true,
    venv_site_packages_copies: o.venvSitePackagesCopies ?? false,
    venv_system_site_packages: o.venvSystemSitePackages ?? false,
  };
  if (fields.entry.entryPoint !== undefined) info.entry_point = fields.entry.entryPoint;
  if (fields.entry.script !== undefined) info.script = fields.entry.script;
  if (o.runtimePexRoot !== undefined) info.pex_root = o.runtimePexRoot;
  return info;
}

/** One file of the PEX chroot, at its chroot path, with the item it belongs to (`group`). */
interface ChrootEntry extends ZipItem {
  /** Items sort by this key (pex's chroot item); files of one item keep their given order. */
  group: string;
}

interface Chroot {
  entries: ChrootEntry[];
  /** Every directory of pre-installed dists (chroot paths), so loose layouts keep empty ones. */
  distDirs: string[];
}

/** Builds a PEX at `outputPath`, atomically: either the complete output appears or nothing does. */
export async function writePex(outputPath: string, options: PexOptions): Promise<PexResult> {
  checkOptions(options);
  const { runtime } = options;
  const layout = options.layout ?? 'zipapp';
  let shebang = options.shebang ?? DEFAULT_SHEBANG;
  if (!shebang.startsWith('#!')) shebang = `#!${shebang}`;
  if (/[\r\n\0]/.test(shebang) || shebang.trim() === '#!') {
    throw new PexError(`The shebang ${JSON.stringify(shebang)} must be one non-empty line.`);
  }
  if (options.preamble !== undefined && options.preamble.includes('\0')) throw new PexError('The preamble must be text.');
  const compress = options.compress ?? true;
  const venv = options.venv ?? false;
  const includeTools = options.includeTools ?? venv;
  const preInstall = options.preInstallWheels ?? false;
  const bootstrap = includeTools ? runtime.bootstrapWithTools : runtime.bootstrap;

  const deps = await prepareDependencies(options.dependencies);
  const sources = await prepareSources(options.sources);
  const interpreterConstraints = pySorted(new Set((options.interpreterConstraints ?? []).map(normalizeInterpreterConstraint)));

  // Read wheels only when their contents matter: pre-installing, finding a script, validating.
  const needWheels = preInstall || options.script !== undefined || options.validateEntryPoint === true;
  if (layout === 'zipapp' && !preInstall) checkZip64(outputPath, deps, sources.files, compress);
  const read = needWheels ? await readWheels(deps) : [];
  const wheels = read.map((r) => r.wheel);
  const entry: ResolvedEntry = options.script !== undefined ? resolveScript(options.script, wheels) : { entryPoint: options.entryPoint };
  if (options.validateEntryPoint) await validateEntryPoint(options.entryPoint!, sources.files, wheels);

  const distributions: Record<string, string> = {};
  const chroot: Chroot = { entries: [], distDirs: [] };
  if (preInstall) {
    wheels.forEach((w, i) => {
      const installed = installWheelChroot(w);
      const key = `.deps/${deps[i]!.filename}`;
      distributions[deps[i]!.filename] = installed.fingerprint;
      for (const path of walkOrder([...installed.files.keys()].filter((p) => !isPycFile(p)))) {
        const f = installed.files.get(path)!;
        chroot.entries.push({ group: key, path: `${key}/${path}`, executable: f.executable, compress, source: { kind: 'buffer', data: f.data } });
      }
      chroot.distDirs.push(key, ...[...installed.dirs].map((d) => `${key}/${d}`));
    });
  } else {
    deps.forEach((d, i) => {
      distributions[d.filename] = d.sha256;
      const path = `.deps/${d.filename}`;
      // A wheel already read (and checked) is written from memory; any other is checked as it is copied.
      const bytes = read[i]?.bytes;
      const source: ZipSource = bytes
        ? { kind: 'buffer', data: bytes }
        : dependencySource(d);
      chroot.entries.push({ group: path, path, executable: false, compress: false, source });
    });
  }

  const info = buildPexInfo(options, {
    bootstrapHash: bootstrap.hash,
    codeHash: sources.codeHash,
    distributions,
    entry,
    includesTools: includeTools,
    interpreterConstraints,
    depsAreWheelFiles: !preInstall,
  });
  const pexHash = createHash('sha1').update(pyJsonDumps(info), 'utf8').digest('hex');
  info.pex_hash = pexHash;
  const pexInfoJson = pyJsonDumps(info);

  const inheritPath = options.inheritPath ?? 'false';
  const hermetic = (venv && (options.venvHermeticScripts ?? true)) || (!venv && inheritPath === 'false');
  const bootCall = renderBootCall(runtime.bootParameters, {
    bootstrap_dir: pyReprStr('.bootstrap'),
    pex_root: pyReprStr(options.runtimePexRoot ?? options.pexRoot ?? DEFAULT_PEX_ROOT),
    pex_hash: pyReprStr(pexHash),
    hermetic_boot: pyReprBool(hermetic),
    hermetic_venv_scripts: pyReprBool(hermetic),
    has_interpreter_constraints: pyReprBool(interpreterConstraints.length > 0),
    pex_path: pyReprTuple(options.pexPath ?? []),
    is_venv: pyReprBool(venv),
    inject_python_args: pyReprTuple(options.injectPythonArgs ?? []),
  });
  const boot = `${runtime.pexBootPy}\n${bootCall}`;
  const mainPy = `${shebang}\n${options.preamble ?? ''}\n${boot}`;

  const single = (e: ZipItem): ChrootEntry => ({ ...e, group: e.path });
  chroot.entries.push(
    ...bootstrap.files.map((f) =>
      single({
        path: f.path,
        executable: f.executable,
        compress: compress && f.compress,
        source: { kind: 'buffer', data: f.data, crc32: f.crc32, deflated: f.deflated },
      }),
    ),
    single({ path: 'PEX-INFO', executable: false, compress, source: { kind: 'buffer', data: Buffer.from(pexInfoJson, 'utf8') } }),
    single({ path: '__main__.py', executable: true, compress, source: { kind: 'buffer', data: Buffer.from(mainPy, 'utf8') } }),
    single({ path: '__pex__/__init__.py', executable: false, compress, source: { kind: 'buffer', data: Buffer.from(boot, 'utf8') } }),
    ...sources.files.map((s) =>
      single({
        path: s.path,
        executable: s.executable,
        compress,
        source: { kind: 'file', path: s.absPath, size: s.size, sha256: s.sha256, what: `source ${s.path}` },
      }),
    ),
  );

  const outDir = dirname(outputPath);
  try {
    await mkdir(outDir, { recursive: true });
  } catch (e) {
    throw new UserError(`Cannot create the output directory ${outDir}: ${(e as Error).message}`);
  }
  // Refuse before anything is written: an existing path that is not a PEX is never replaced.
  await checkReplaceable(outputPath);
  // Temporary files live outside the output directory when the caller names a place for them
  // (outputs are what Nx caches); either way they go on SIGINT/SIGTERM, and a killed build's are
  // swept here by the next one.
  let tmpDir = outDir;
  if (options.tmpDir !== undefined) {
    // A place that cannot be made falls back to the output's directory.
    if (await mkdir(options.tmpDir, { recursive: true }).then(() => true, () => false)) tmpDir = options.tmpDir;
    await sweepStaleTemps(options.tmpDir);
  }
  await sweepStaleTemps(outDir, { legacy: true });
  const tmpPath = tempPathFor(tmpDir, outputPath);
  let bytes: number;
  try {
    if (layout === 'zipapp') {
      bytes = await writeZipapp(tmpPath, outputPath, Buffer.from(`${shebang}\n`, 'utf8'), chroot.entries);
      await chmod(tmpPath, 0o755);
    } else {
      bytes = layout === 'packed' ? await writePacked(tmpPath, outputPath, chroot) : await writeLoose(tmpPath, chroot);
      await symlink('__main__.py', join(tmpPath, 'pex'));
    }
    await moveIntoPlace(tmpPath, outputPath);
  } catch (e) {
    await rm(tmpPath, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof UserError) throw e;
    throw outputWriteError(outputPath, e);
  } finally {
    untrack(tmpPath);
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

function checkZip64(outputPath: string, deps: ReadonlyArray<{ size: number; filename: string }>, sources: readonly PreparedSource[], compress: boolean): void {
  // Stored bytes alone that cannot fit below 4 GiB doom the zipapp before anything is written.
  let stored = 0;
  for (const d of deps) {
    if (d.size >= 0xffffffff - 1) throw zip64Error(outputPath, `.deps/${d.filename} is ${d.size} bytes`);
    stored += d.size;
  }
  if (!compress) for (const s of sources) stored += s.size;
  if (stored >= 0xffffffff) throw zip64Error(outputPath, `${stored} bytes of stored entries`);
}

async function unchangedSince(path: string, identity: FileIdentity): Promise<boolean> {
  const st = await lstat(path, { bigint: true }).catch(() => undefined);
  return st !== undefined && hasIdentity(st, identity);
}

async function writeFileMode(path: string, data: Buffer, executable: boolean): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data, { mode: executable ? 0o755 : 0o644, flag: 'wx' });
}

async function materialize(dir: string, e: ChrootEntry, path = e.path): Promise<number> {
  const dest = join(dir, ...path.split('/'));
  assertInside(dir, dest, `PEX entry ${path}`);
  const source = e.source;
  if (source.kind === 'file' && (source.sha256 === undefined || (source.identity && (await unchangedSince(source.path, source.identity))))) {
    // A trusted store file: copied by the kernel, checked for its size only.
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(source.path, dest, constants.COPYFILE_EXCL).catch((err: Error) => {
      throw new UserError(`Cannot copy ${source.what} (${source.path}): ${err.message}`);
    });
    const { size } = await stat(dest);
    if (size !== source.size) throw changedError(source.what, source.path, `expected ${source.size} bytes, copied ${size}`);
    await chmod(dest, e.executable ? 0o755 : 0o644);
    return size;
  }
  const data = source.kind === 'buffer' ? source.data : await readFileSource(source);
  await writeFileMode(dest, data, e.executable);
  return data.length;
}

/** The packed layout: `.bootstrap` and each `.deps/<whl>` as zips, everything else loose. */
async function writePacked(tmpDir: string, outputPath: string, chroot: Chroot): Promise<number> {
  await mkdir(tmpDir, { mode: 0o755 });
  let bytes = 0;
  const subZips = new Map<string, ChrootEntry[]>();
  for (const e of chroot.entries) {
    if (e.path.startsWith('.bootstrap/')) {
      const list = subZips.get('.bootstrap') ?? [];
      list.push({ ...e, path: e.path.slice('.bootstrap/'.length), group: e.group.slice('.bootstrap/'.length) });
      subZips.set('.bootstrap', list);
    } else if (e.path.startsWith('.deps/') && e.path !== e.group) {
      const list = subZips.get(e.group) ?? [];
      list.push({ ...e, path: e.path.slice(e.group.length + 1), group: '' });
      subZips.set(e.group, list);
    } else {
      bytes += await materialize(tmpDir, e);
    }
  }
  for (const [name, items] of subZips) {
    const dest = join(tmpDir, ...name.split('/'));
    assertInside(tmpDir, dest, `PEX entry ${name}`);
    await mkdir(dirname(dest), { recursive: true });
    bytes += await writeZipapp(dest, `${outputPath}/${name}`, Buffer.alloc(0), items);
  }
  return bytes;
}

/** The loose layout: the chroot as plain files (pre-installed dists as directories). */
async function writeLoose(tmpDir: string, chroot: Chroot): Promise<number> {
  // pex copies its mkdtemp chroot, so the root directory is private (0700) like pex's.
  await mkdir(tmpDir, { mode: 0o700 });
  for (const d of chroot.distDirs) await mkdir(join(tmpDir, ...d.split('/')), { recursive: true });
  let bytes = 0;
  for (const e of chroot.entries) bytes += await materialize(tmpDir, e);
  return bytes;
}

/** A system error while writing the output, as one clear message (a full disk, a read-only or forbidden place). */
function outputWriteError(outputPath: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!err?.code || !err.syscall) return e;
  const hint: Record<string, string> = {
    ENOSPC: 'the disk is full; free some space and build again',
    EDQUOT: 'the disk quota is exhausted; free some space and build again',
    EROFS: 'the file system is read-only; choose a writable output path',
    EACCES: 'permission denied; choose an output path you may write to',
    EPERM: 'the operation is not permitted; choose an output path you may write to',
  };
  return new UserError(`Cannot write ${outputPath}: ${hint[err.code] ?? err.message}${hint[err.code] ? ` (${err.code})` : ''}.`);
}


export interface PexLayers {
  /** The dependencies-only PEX: depends only on the closure and build-wide options. */
  deps: string;
  /** The sources-only PEX with the entry point; run it with `PEX_PATH=<deps>`. */
  srcs: string;
  depsResult: PexResult;
  srcsResult: PexResult;
}

/**
 * The options of an application's dependencies layer: its distributions, root requirements and
 * the build-wide options, nothing of its sources or entry point; identical for every application
 * with the same closure and build options.
 */
export function depsLayerOptions(options: PexOptions): PexOptions {
  return {
    runtime: options.runtime,
    dependencies: options.dependencies,
    sources: [],
    requirements: options.requirements,
    shebang: options.shebang,
    interpreterConstraints: options.interpreterConstraints,
    layout: options.layout,
    preInstallWheels: options.preInstallWheels,
    compress: options.compress,
    pexRoot: options.pexRoot,
    runtimePexRoot: options.runtimePexRoot,
    includeTools: options.includeTools ?? options.venv,
    buildProperties: options.buildProperties,
    maxInstallJobs: options.maxInstallJobs,
    tmpDir: options.tmpDir,
  };
}

/**
 * The options of an application's sources layer: sources, entry point and run-time options, no
 * distributions. A console script of a distribution becomes the entry point; a distribution's
 * `.data/scripts` file cannot be run from a layer without the distribution, and is refused.
 */
export async function sourcesLayerOptions(options: PexOptions): Promise<PexOptions> {
  checkOptions(options);
  let { entryPoint, script } = options;
  if (script !== undefined || options.validateEntryPoint) {
    const wheels = (await readWheels(await prepareDependencies(options.dependencies))).map((r) => r.wheel);
    if (script !== undefined) {
      ({ entryPoint, script } = resolveScript(script, wheels));
      if (script !== undefined) {
        throw new PexError(
          `Script '${script}' is a distribution script (.data/scripts), which a sources-only layer cannot run; use a console script or an entry point.`,
        );
      }
    }
    if (options.validateEntryPoint) await validateEntryPoint(options.entryPoint!, await listSources(options.sources), wheels);
  }
  const srcsOptions: PexOptions = { ...options, dependencies: [], requirements: [], validateEntryPoint: false, entryPoint };
  delete srcsOptions.script;
  return srcsOptions;
}

/**
 * Writes the two layers of an application: `deps.pex` (distributions and root requirements,
 * identical for every application with the same closure) and `srcs.pex` (sources, entry point
 * and run-time options, no distributions). `PEX_PATH=deps.pex ./srcs.pex` runs the application.
 * Packed/loose layouts give directories of the same names.
 */
export async function writeLayers(outDir: string, options: PexOptions): Promise<PexLayers> {
  const srcsOptions = await sourcesLayerOptions(options);
  const deps = join(outDir, 'deps.pex');
  const srcs = join(outDir, 'srcs.pex');
  const depsResult = await writePex(deps, depsLayerOptions(options));
  const srcsResult = await writePex(srcs, srcsOptions);
  return { deps, srcs, depsResult, srcsResult };
}
