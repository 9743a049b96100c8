import { resolve } from 'node:path';
import { createContext, lockRequirements, readRequirementsFile } from '@nx-pex/engine';
import { parseBuildArgs, type BuildArgs } from './build-args';
import { applyBuildTimeout } from './build';
import { UsageError } from './errors';

const LOCK_KEYS = new Set<keyof BuildArgs>([
  'requirements', 'requirementFiles', 'project', 'constraintFiles', 'pre', 'onlyBinary', 'noBinary', 'build', 'wheel',
  'indexUrls', 'findLinks', 'pypi', 'python', 'storeDir', 'disableCache', 'quiet', 'help', 'outputFile', 'platforms', 'completePlatforms', 'buildTimeout',
]);

const HELP = `Usage: nx-pex lock [--project DIR] [REQUIREMENT...] [-r FILE] [TARGETS | --universal] [-o pylock.toml] [options]

Resolves a project's [project] dependencies (--project DIR, default output DIR/pylock.toml) and/or
requirements (arguments, -r files) and writes a PEP 751 pylock.toml listing every artifact with its
URL, size and sha256.

Targets (repeatable, combined; default python3): --python PY (an interpreter), --platform PLATFORM
(pex's abbreviated platform, e.g. manylinux2014_aarch64-cp-312-cp312), --complete-platform FILE|JSON.
Each target is resolved on its own; a package only some targets take carries a marker naming them.

--universal: one resolution for every platform and every Python version the project's
requires-python allows (else from --python's version up), markers carried along the dependency
edges, every file of each chosen version listed; forked (as uv forks) where requirements need it.

Options: --constraints FILE, --pre, --only-binary NAMES|:all:, --no-binary NAMES|:all:, --no-build,
-i/--index-url URL, -f/--find-links PATH, --no-pypi, --store DIR, --disable-cache,
--build-timeout SECONDS, -q (as for nx-pex build).

The output (-o) is written only where nothing is, or over a lock nx-pex wrote (its first line is
nx-pex's header). A pylock.toml without that header is the user's: --replace-user-lock replaces it.
`;

/** `nx-pex lock`. */
export async function lockCommand(argv: string[]): Promise<number> {
  // --python may be given once per target; the build parser keeps one value.
  const pythons: string[] = [];
  const rest: string[] = [];
  let universal = false;
  let replaceUserLock = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--python' && i + 1 < argv.length) pythons.push(argv[++i]!);
    else if (a.startsWith('--python=')) pythons.push(a.slice('--python='.length));
    else if (a === '--universal') universal = true;
    else if (a === '--replace-user-lock') replaceUserLock = true;
    else rest.push(a);
  }
  const a = parseBuildArgs(rest);
  if (a.help) {
    process.stdout.write(HELP);
    return 0;
  }
  for (const [key, value] of Object.entries(a)) {
    if (value !== undefined && !LOCK_KEYS.has(key as keyof BuildArgs)) {
      throw new UsageError(`nx-pex lock does not take the build option "${key}"; run \`nx-pex lock --help\`.`);
    }
  }
  applyBuildTimeout(a.buildTimeout);
  const constraints: string[] = [];
  const requirements = [...a.requirements];
  for (const file of a.requirementFiles ?? []) requirements.push(...(await readRequirementsFile(file, constraints)));
  for (const file of a.constraintFiles ?? []) constraints.push(...(await readRequirementsFile(file, constraints)));
  if (a.project === undefined && requirements.length === 0) throw new UsageError('nx-pex lock needs --project DIR or requirements. Run `nx-pex lock --help`.');
  const onlyBinary = [...(a.onlyBinary ?? []), ...(a.build === false ? [':all:'] : [])];
  const noBinary = [...(a.noBinary ?? []), ...(a.wheel === false ? [':all:'] : [])];
  await lockRequirements({
    projectDir: a.project !== undefined ? resolve(a.project) : undefined,
    requirements,
    constraints,
    pythons,
    platforms: a.platforms,
    completePlatforms: a.completePlatforms,
    universal,
    outputFile: a.outputFile,
    replaceUserLock,
    pre: a.pre,
    onlyBinary,
    noBinary,
  }, createContext({
    storeDir: a.storeDir,
    disableCache: a.disableCache || undefined,
    indexes: a.indexUrls || a.findLinks || a.pypi !== undefined ? { indexUrls: a.indexUrls, findLinks: a.findLinks, noPypi: a.pypi === false } : undefined,
    log: a.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`),
  }));
  return 0;
}
