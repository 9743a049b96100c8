/**
 * The PEX options a build takes from its target, from `[tool.nx-pex]` and from the command line,
 * each with the meaning of the pex flag of the same name.
 */
import { readdir } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';
import { isValidVersion, UserError } from '@nx-pex/pep';
import {
  EXECUTABLE_OPTIONS,
  resolveOptionPaths,
  WRITER_FIELDS,
  type LayeredOptions,
  type OptionEntry,
  type PexBuildOptions,
  type PyProject,
  type SourceFile,
  type ValueOf,
} from '@nx-pex/project';
import type { PexOptions } from '@nx-pex/pex';

export {
  completePlatformPath,
  PEX_BUILD_OPTION_NAMES,
  type InheritPath,
  type LayeredOptions,
  type Layout,
  type PexBuildOptions,
} from '@nx-pex/project';

/**
 * Merges option layers, the first winning: command line or target options, then
 * `[tool.nx-pex]`, then defaults. The options the registry marks `together: 'executable'`
 * (`entryPoint`, `script`, `scripts`) go together: they come from the first layer that sets any
 * of them.
 */
export function mergeOptions(...layers: Array<LayeredOptions | undefined>): LayeredOptions {
  const out: Record<string, unknown> = {};
  let executableTaken = false;
  for (const layer of layers) {
    if (!layer) continue;
    const values = layer as Record<string, unknown>;
    const setsExecutable = EXECUTABLE_OPTIONS.some((k) => values[k] !== undefined);
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (EXECUTABLE_OPTIONS.includes(key)) {
        if (executableTaken) continue;
      } else if (key in out) continue;
      out[key] = value;
    }
    if (setsExecutable) executableTaken = true;
  }
  return out as LayeredOptions;
}

/** `[tool.nx-pex]` as build options, with its paths (`sources`, complete platforms) resolved against the project's directory. */
export function toolOptions(project: PyProject): LayeredOptions {
  const { lockFile: _lockFile, ...rest } = project.nxPex;
  return resolveOptionPaths<LayeredOptions>(rest, project.dir);
}

/**
 * Conflicts between options that nx-pex itself refuses (the PEX writer checks the rest).
 * `where` names the source of the options in messages.
 */
export function checkOptions(o: LayeredOptions, where: string): void {
  const fail = (msg: string): never => {
    throw new UserError(`${where}: ${msg}`);
  };
  if (o.entryPoint !== undefined && o.script !== undefined) {
    fail(`an entry point (${o.entryPoint}) and a script (${o.script}) are both given; a PEX runs one of them, as in pex (-e or -c).`);
  }
  if (o.scripts !== undefined && (o.entryPoint !== undefined || o.script !== undefined)) {
    fail('scripts (one PEX per console script) cannot be combined with an entry point or a single script.');
  }
  if (o.venv === true && o.includeTools === false) {
    fail('a venv PEX needs the pex tools to build its virtualenv at first run (pex includes them with --venv); drop includeTools: false or venv.');
  }
  if (o.venvBinPath !== undefined && o.venvBinPath !== 'false' && o.venv !== true) {
    fail(`venvBinPath "${o.venvBinPath}" applies only to a venv PEX; set venv too (pex: --venv ${o.venvBinPath}).`);
  }
  if (o.maxInstallJobs !== undefined && (!Number.isInteger(o.maxInstallJobs) || o.maxInstallJobs < -1)) {
    fail(`maxInstallJobs must be an integer of -1 or more (pex: 1 = serial, 0 = one per CPU, -1 = pex decides); it is ${o.maxInstallJobs}.`);
  }
  if (o.pexVersion !== undefined && !isValidVersion(o.pexVersion)) {
    fail(`pexVersion "${o.pexVersion}" is not a version (e.g. 2.105.2).`);
  }
  for (const [name, value] of Object.entries(o.injectEnv ?? {})) {
    if (name === '' || name.includes('=') || name.includes('\0') || value.includes('\0')) {
      fail(`injectEnv has the variable ${JSON.stringify(name)}, which is not a valid environment variable name.`);
    }
  }
  for (const dir of o.sources ?? []) {
    if (!isAbsolute(dir)) fail(`the sources directory ${dir} must be an absolute path here.`);
  }
}

type Assert<T extends true> = T;
type WriterEntry = Extract<OptionEntry, { writer: string }>;
/** Compile-time check: every writer field the registry names is one of the writer's options. */
export type WriterFieldsExist = Assert<[Exclude<WriterEntry['writer'], keyof PexOptions>] extends [never] ? true : false>;
/** The options whose value does not fit the writer field the registry passes them on as. */
type Misfits<E = WriterEntry> = E extends WriterEntry
  ? NonNullable<ValueOf<E['kind']>> extends NonNullable<PexOptions[E['writer'] & keyof PexOptions]>
    ? never
    : E['field']
  : never;
/** Compile-time check: each option's value fits the writer field it is passed on as. */
export type WriterValuesFit = Assert<[Misfits] extends [never] ? true : false>;

/** The options passed on to the PEX writer: each option the registry gives a writer field, as that field. */
export function writerOptions(o: PexBuildOptions): Partial<PexOptions> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(o)) {
    const writer = WRITER_FIELDS[field];
    if (writer !== undefined && value !== undefined) out[writer] = value;
  }
  return out as Partial<PexOptions>;
}

/**
 * The files of `-D` directories as pex takes them: every file below each directory (symlinked
 * directories are not followed, as `os.walk` does not), at its path relative to that directory.
 */
export async function directorySources(dirs: readonly string[]): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const walk = async (dir: string, prefix: string) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = prefix ? posix.join(prefix, e.name) : e.name;
      if (e.isDirectory()) await walk(join(dir, e.name), path);
      else if (e.isFile() || e.isSymbolicLink()) out.push({ path, absPath: join(dir, e.name) });
    }
  };
  for (const dir of dirs) {
    try {
      await walk(dir, '');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.path === dir || err.code === 'ENOENT' || err.code === 'ENOTDIR') {
        throw new UserError(`The sources directory ${dir} cannot be read (${err.code ?? err.message}): give an existing directory.`);
      }
      throw e;
    }
  }
  return out;
}

/**
 * Sources of several origins in one list; the same PEX path from two different files is an
 * error naming both (pex refuses such a collision too).
 */
export function combineSources(...sets: SourceFile[][]): SourceFile[] {
  const seen = new Map<string, SourceFile>();
  for (const set of sets) {
    for (const f of set) {
      const prior = seen.get(f.path);
      if (prior && prior.absPath !== f.absPath) {
        throw new UserError(`${f.path} would come from both ${prior.absPath} and ${f.absPath}; a PEX holds one file per path.`);
      }
      seen.set(f.path, f);
    }
  }
  return [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
