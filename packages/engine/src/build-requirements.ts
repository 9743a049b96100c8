/**
 * pex's own way of building: requirements (from a lock, a hashed requirements file, or resolved
 * against the indexes and find-links), source directories (`-D`), an entry point or script, one
 * output file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseRequirement, RequirementSyntaxError, UserError, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import { isHashedLock, readRequirementsFileLock } from '@nx-pex/lock';
import { parseRoot } from '@nx-pex/resolver';
import { writePex } from '@nx-pex/pex';
import type { SourceFile } from '@nx-pex/project';
import type { BuiltPex } from './build-project';
import { createContext, type BuildContext } from './context';
import type { LockSource } from './lock-source';
import { checkOptions, writerOptions, type PexBuildOptions } from './options';
import { describeTargets, entryPointOf, fetchOptionsFor, targetsFor, withFetchedInputs, withSources, type FetchedInputs } from './pipeline';
import { selectForTargets, type Selection } from './selection';
import { hashedSource, lockKindOf, resolveSource, type LockKindModule } from './sources';
import { checkUtf8Path, outputTmpDir, shownPath } from './outputs';
import { linkWheelsToStore } from './layers';

export { withoutCredentials } from './sources';

export interface BuildRequirementsOptions {
  /** Requirements (arguments): PEP 508, or (without a lock) a local project, wheel or sdist path. */
  requirements: string[];
  /**
   * pip requirements files (`-r`): their requirements join `requirements`, their index lines the
   * index settings; a file whose every requirement is pinned and hashed is taken as a lock.
   */
  requirementFiles?: string[];
  /** A lock to take them from; without one they are resolved against the indexes and find-links. */
  lockFile?: string;
  /** Constraints (pex's `--constraints` files): they narrow versions and add no project. */
  constraintFiles?: string[];
  /** Allow pre-releases (`--pre`). */
  pre?: boolean;
  /** Projects (or `:all:`) taken only as wheels (`--only-binary`; pex's `--no-build` is `:all:`). */
  onlyBinary?: string[];
  /** Projects (or `:all:`) always built from sdists (`--no-binary`; pex's `--no-wheel` is `:all:`). */
  noBinary?: string[];
  /** Only the requirements themselves, without their dependencies (`--no-transitive`). */
  noTransitive?: boolean;
  outputFile: string;
  /** Interpreter whose version and platform the PEX targets, when no platform is given; default `python3`. */
  python?: string;
  /** `sources` must be absolute. */
  pex?: PexBuildOptions;
}

export interface BuildRequirementsResult extends BuiltPex {
  target: string;
  wheels: number;
}

/** Parses every requirement (PEP 508, or a wheel, sdist or project path), reporting all bad ones at once. */
function parseAll(texts: readonly string[], local: boolean): Requirement[] {
  const out: Requirement[] = [];
  const problems: string[] = [];
  for (const t of texts) {
    try {
      out.push(local ? parseRoot(t) : parseRequirement(t));
    } catch (e) {
      if (e instanceof RequirementSyntaxError) problems.push(`"${e.text}" is not a valid requirement: ${e.message}`);
      else if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  if (problems.length === 1) throw new UserError(problems[0]!);
  if (problems.length > 1) throw new UserError(`${problems.length} requirements cannot be used:\n  ${problems.join('\n  ')}`);
  return out;
}

function checkProjectOnlyOptions(o: PexBuildOptions): void {
  if (o.layers || o.docker || o.dockerBaseImage !== undefined || o.image || o.fullPex === false) {
    throw new UserError(
      `${o.image ? '--image' : o.docker ? '--docker' : o.layers ? '--layers' : o.fullPex === false ? '--no-full-pex' : '--docker-base-image'} applies to project builds: give --project DIR (or use the Nx target), ` +
        'so that the sources layer holds the project\'s code.',
    );
  }
}

/** The requirements files (`-r`, and a requirements file given as the lock) and constraints, read. */
async function readFiles(options: BuildRequirementsOptions, kind: LockKindModule | undefined, ctx: BuildContext) {
  // A requirements file given as the lock is a requirements file like -r.
  const asLock = kind && !kind.openRequirements ? [resolve(options.lockFile!)] : [];
  // Without a lock, requirements files may name local projects and wheel or sdist files, and -e
  // lines are plain requirements, as pex takes them.
  const lineParser = !kind || asLock.length ? { parseLine: parseRoot } : {};
  const files = await Promise.all([...(options.requirementFiles ?? []), ...asLock].map((f) => readRequirementsFileLock(f, ctx.env, lineParser)));
  const constraintFiles = await Promise.all((options.constraintFiles ?? []).map((f) => readRequirementsFileLock(f, ctx.env)));
  const constraints = [...files.flatMap((f) => f.constraints), ...constraintFiles.flatMap((f) => [...f.constraints, ...f.requirements])].map((l) => l.requirement);
  return { files, constraints };
}

/** Where the requirements come from: a package lock, hashed requirements files, or resolution. */
async function requirementsSource(options: BuildRequirementsOptions, targets: readonly TargetPlatform[], ctx: BuildContext): Promise<LockSource> {
  const kind = options.lockFile ? await lockKindOf(resolve(options.lockFile)) : undefined;
  const { files, constraints } = await readFiles(options, kind, ctx);
  const lines = files.flatMap((f) => f.requirements);
  const packageLock = kind?.openRequirements ? resolve(options.lockFile!) : undefined;
  const requirements = [...parseAll(options.requirements, !packageLock), ...lines.map((l) => l.requirement)];
  if (packageLock) return { ...(await kind!.openRequirements!({ lockFile: packageLock, requirements, targets, noTransitive: options.noTransitive })), requirementsFiles: files };
  if (files.length > 0 && isHashedLock({ ...files[0]!, path: files.map((f) => f.path).join(', '), requirements: lines })) {
    if (options.requirements.length > 0) {
      throw new UserError(
        `${files.map((f) => f.path).join(', ')} hash every requirement, so the requirements given as arguments (${options.requirements.join(' ')}) need hashes too, as in pip's hash-checking mode: add them to the file with their hashes.`,
      );
    }
    return hashedSource({
      files,
      projectRoot: process.cwd(),
      offlineWhat: 'A hashed requirements file',
      offlineAdvice: 'build online, or use a lock that names its files (uv.lock, poetry.lock).',
    });
  }
  const { pre, onlyBinary, noBinary, noTransitive, python } = options;
  return { ...resolveSource({ requirements, constraints, pre, onlyBinary, noBinary, noTransitive, python }), requirementsFiles: files };
}

/** Builds one PEX from requirements and source directories, as `pex REQ... -D DIR -o FILE` does. */
export async function buildRequirements(options: BuildRequirementsOptions, ctx: BuildContext = createContext()): Promise<BuildRequirementsResult> {
  const o = options.pex ?? {};
  checkOptions(o, 'nx-pex options');
  checkProjectOnlyOptions(o);
  const targets = await targetsFor({ python: options.python, platforms: o.platforms, completePlatforms: o.completePlatforms }, ctx);
  const source = await requirementsSource(options, targets, ctx);
  checkUtf8Path(options.outputFile, 'The output path');
  const path = resolve(options.outputFile);
  const { result, wheels } = await withFetchedInputs(
    fetchOptionsFor(source, targets, o.pexVersion),
    ctx,
    async (index) => {
      ctx.log(`${describeTargets(targets, options.python)}, ${source.description}`);
      return withSources(await selectForTargets(source, targets, index, ctx, options.python), o.sources, { python: options.python, target: targets[0]!, projectRoot: source.projectRoot }, index, ctx);
    },
    (inputs, selection) => writeRequirementsPex(path, options, inputs, selection, ctx),
  );
  return {
    script: o.script ?? o.entryPoint ?? '',
    path,
    bytes: result.bytes,
    pexHash: result.pexHash,
    target: targets.map((t) => t.id).join(', '),
    wheels,
  };
}

async function writeRequirementsPex(
  path: string,
  options: BuildRequirementsOptions,
  { runtime, dependencies, shebang, storeRoot }: FetchedInputs,
  selection: Selection & { sources: SourceFile[] },
  ctx: BuildContext,
) {
  const o = options.pex ?? {};
  await mkdir(dirname(path), { recursive: true });
  // A console script of a workspace project taken from the lock: its code is in the PEX as
  // sources, not as a distribution, so its entry point is set here (as pex's -c would find it).
  const own = o.script !== undefined ? selection.firstParty.find((p) => o.script! in p.scripts) : undefined;
  const executable = own ? { entryPoint: entryPointOf(own.scripts[o.script!]!), script: undefined } : {};
  const result = await writePex(path, {
    tmpDir: await outputTmpDir(storeRoot, dirname(path)),
    ...writerOptions(o),
    // Without the dependencies' dependencies the runtime cannot resolve every requirement at
    // boot: pex's --no-transitive implies --ignore-errors.
    ...(options.noTransitive ? { ignoreErrors: true } : {}),
    ...executable,
    runtime,
    dependencies,
    sources: selection.sources,
    requirements: selection.requirements,
    shebang: o.shebang ?? shebang,
  });
  await linkWheelsToStore(path, { ...writerOptions(o), dependencies });
  ctx.log(`wrote ${shownPath(path)} (${(result.bytes / 1e6).toFixed(1)} MB, ${dependencies.length} wheels)`);
  return { result, wheels: dependencies.length };
}
