/**
 * The PEX options a build takes from its target, from `[tool.nx-pex]` and from the command line,
 * each with the meaning of the pex flag of the same name.
 */
import { readdir } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { isValidVersion, UserError } from '@nx-pex/pep';
import type { NxPexToolConfig, PyProject, SourceFile } from '@nx-pex/project';
import type { PexOptions } from '@nx-pex/pex';

export type Layout = NonNullable<NxPexToolConfig['layout']>;
export type InheritPath = NonNullable<NxPexToolConfig['inheritPath']>;

/**
 * PEX options settable per target, per project (`[tool.nx-pex]`) and on the command line: the
 * keys of `[tool.nx-pex]` but `scripts`, each with the meaning of the pex flag of the same name
 * (`sources` is `-D`; docs/options.md lists the flag and the Pants field of each).
 */
export type PexBuildOptions = Omit<NxPexToolConfig, 'scripts' | 'lockFile'>;

/** Every option of PexBuildOptions, in the order docs/options.md and `--help` list them. */
export const PEX_BUILD_OPTION_NAMES = [
  'entryPoint',
  'script',
  'sources',
  'layout',
  'preInstallWheels',
  'compress',
  'includeTools',
  'shebang',
  'interpreterConstraints',
  'injectArgs',
  'injectEnv',
  'injectPythonArgs',
  'inheritPath',
  'stripPexEnv',
  'emitWarnings',
  'ignoreErrors',
  'maxInstallJobs',
  'venv',
  'venvBinPath',
  'venvCopies',
  'venvSitePackagesCopies',
  'venvSystemSitePackages',
  'venvHermeticScripts',
  'validateEntryPoint',
  'pexPath',
  'runtimePexRoot',
  'pexVersion',
  'layers',
  'docker',
  'dockerBaseImage',
  'image',
  'imageBase',
  'imageRepository',
  'imageTags',
  'imagePorts',
  'imageUser',
  'imageEnv',
  'imageRevision',
  'platforms',
  'completePlatforms',
  'firstParty',
] as const satisfies ReadonlyArray<keyof PexBuildOptions>;

/** Options that say what the PEX runs; a layer that sets one of them replaces all of them below it. */
const EXECUTABLE = ['entryPoint', 'script', 'scripts'] as const;

/** Build options plus `scripts` (nx-pex's one-PEX-per-console-script list). */
export type LayeredOptions = Omit<NxPexToolConfig, 'lockFile'>;

/**
 * Merges option layers, the first winning: command line or target options, then
 * `[tool.nx-pex]`, then defaults. `entryPoint`, `script` and `scripts` go together: they come
 * from the first layer that sets any of them.
 */
export function mergeOptions(...layers: Array<LayeredOptions | undefined>): LayeredOptions {
  const out: Record<string, unknown> = {};
  let executableTaken = false;
  for (const layer of layers) {
    if (!layer) continue;
    const setsExecutable = EXECUTABLE.some((k) => layer[k] !== undefined);
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if ((EXECUTABLE as readonly string[]).includes(key)) {
        if (executableTaken) continue;
      } else if (key in out) continue;
      out[key] = value;
    }
    if (setsExecutable) executableTaken = true;
  }
  return out as LayeredOptions;
}

/** A complete platform as given (a JSON object, else a file) with a file resolved against `dir`. */
export function completePlatformPath(value: string, dir: string): string {
  return value.trim().startsWith('{') ? value : resolve(dir, value);
}

/** `[tool.nx-pex]` as build options, with `sources` resolved against the project's directory. */
export function toolOptions(project: PyProject): LayeredOptions {
  const { sources, lockFile: _lockFile, completePlatforms, ...rest } = project.nxPex as NxPexToolConfig;
  const out: LayeredOptions = { ...rest };
  if (sources) out.sources = sources.map((s) => resolve(project.dir, s));
  if (completePlatforms) out.completePlatforms = completePlatforms.map((c) => completePlatformPath(c, project.dir));
  return out;
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

/** The options passed on to the PEX writer. */
export function writerOptions(o: PexBuildOptions): Partial<PexOptions> {
  const out: Partial<PexOptions> = {};
  const copy = <K extends keyof PexBuildOptions & keyof PexOptions>(k: K) => {
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  };
  copy('layout');
  copy('preInstallWheels');
  copy('entryPoint');
  copy('script');
  copy('injectArgs');
  copy('injectEnv');
  copy('injectPythonArgs');
  copy('inheritPath');
  copy('stripPexEnv');
  copy('emitWarnings');
  copy('ignoreErrors');
  copy('maxInstallJobs');
  copy('shebang');
  copy('interpreterConstraints');
  copy('includeTools');
  copy('venv');
  copy('venvBinPath');
  copy('venvCopies');
  copy('venvSitePackagesCopies');
  copy('venvSystemSitePackages');
  copy('venvHermeticScripts');
  copy('compress');
  copy('validateEntryPoint');
  copy('pexPath');
  copy('runtimePexRoot');
  return out;
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
