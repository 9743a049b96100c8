/**
 * Wheels built from sdists and local project directories, with the project's own PEP 517 backend
 * in an isolated environment (`python -m pip wheel --no-deps`, as pex does), by a local interpreter.
 * A wheel built from an sdist is kept in the store and remembered under the sdist's sha256 and the
 * target's tags, so each sdist is built once per target.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, sep } from 'node:path';
import { writeFileAtomic } from '@nx-pex/fs';
import { parseWheelFilename, UserError, wheelRank, type TargetPlatform } from '@nx-pex/pep';
import { redactText, redactUrl, type IndexConfig } from '@nx-pex/index';
import { checkZipArchive, type WheelStore } from '@nx-pex/store';
import type { BuiltWheel, WheelBuilder } from './source';

/** An sdist or project whose build failed, or whose wheel does not fit the target. */
export class SdistBuildError extends UserError {}

export interface SdistBuilderOptions {
  /** The interpreter that builds (the target's, or `--python`). */
  python: string;
  target: TargetPlatform;
  store: WheelStore;
  env?: NodeJS.ProcessEnv;
  /**
   * The indexes and find-links of the build (pip's configuration with the command line's
   * overrides): the isolated build environment takes its build backend from them, as pex's
   * builds do, not from pip's configuration alone.
   */
  index?: IndexConfig;
  log?: (line: string) => void;
  /** Build time limit (default 30 minutes). */
  timeoutMs?: number;
}

interface BuiltRecord {
  filename: string;
  sha256: string;
  size: number;
}

async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

function run(python: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(python, args, { env, timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout ?? ''}${stderr ?? ''}`;
      if (!err) return resolve({ code: 0, output });
      const e = err as NodeJS.ErrnoException & { code?: unknown };
      if (e.code === 'ENOENT') return resolve({ code: -1, output: `the interpreter ${python} was not found` });
      resolve({ code: typeof e.code === 'number' ? e.code : 1, output: output || e.message });
    });
  });
}

const SKIPPED_ANYWHERE = new Set(['.git', '.hg', '.svn', 'node_modules', '__pycache__', '.venv', '.nx', '.tox', '.nox', '.mypy_cache', '.pytest_cache', '.ruff_cache']);

/** What of a project directory is copied for its build: not VCS data, caches, or earlier build output. */
function keepInCopy(root: string, src: string): boolean {
  const rel = relative(root, src);
  if (rel === '') return true;
  const name = basename(src);
  if (SKIPPED_ANYWHERE.has(name)) return false;
  // setuptools' output of an earlier in-place build, at the project's top.
  if (!rel.includes(sep) && (name === 'build' || name === 'dist' || name.endsWith('.egg-info'))) return false;
  return true;
}

/**
 * `env` with pip's index options set to `index`'s (pip reads `PIP_<OPTION>` before its
 * configuration files), so that `pip wheel` installs build requirements from the same places
 * the resolution used.
 */
export function pipIndexEnv(env: NodeJS.ProcessEnv, index: IndexConfig | undefined): NodeJS.ProcessEnv {
  if (!index) return env;
  const out: NodeJS.ProcessEnv = {
    ...env,
    PIP_INDEX_URL: index.indexUrl,
    PIP_EXTRA_INDEX_URL: index.extraIndexUrls.join(' '),
    PIP_FIND_LINKS: index.findLinks.join(' '),
    PIP_TRUSTED_HOST: index.trustedHosts.join(' '),
  };
  // pip reads an empty PIP_NO_INDEX as an invalid boolean: leave it out unless it is on.
  delete out.PIP_NO_INDEX;
  if (index.noIndex) out.PIP_NO_INDEX = '1';
  if (index.certFile) out.PIP_CERT = index.certFile;
  return out;
}

/** A WheelBuilder for the resolver: builds with `python -m pip wheel --no-deps`, caches sdist builds in the store. */
export function sdistBuilder(opts: SdistBuilderOptions): WheelBuilder {
  const env = { ...pipIndexEnv(opts.env ?? process.env, opts.index), PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
  const builtDir = join(opts.store.root, 'built');
  const tagsKey = createHash('sha256').update(opts.target.supportedTags.join('\n')).digest('hex').slice(0, 16);

  return async (input) => {
    const filename = input.filename ?? input.path.split('/').pop()!;
    const what = input.kind === 'directory' ? `the project in ${input.path}` : `${filename} (${redactUrl(input.url)})`;
    let recordPath: string | undefined;
    if (input.kind === 'sdist') {
      const sha = input.sha256 ?? (await sha256File(input.path)).sha256;
      recordPath = join(builtDir, `${sha}-${tagsKey}.json`);
      const known = await readFile(recordPath, 'utf8').then((t) => JSON.parse(t) as BuiltRecord, () => undefined);
      const path = known ? await opts.store.get(known.sha256) : undefined;
      if (known && path) return { path, filename: known.filename, sha256: known.sha256, size: known.size };
    }
    const scratch = await mkdtemp(join(tmpdir(), 'nx-pex-build-'));
    const out = join(scratch, 'wheel');
    try {
      let source = input.path;
      if (input.kind === 'directory') {
        // pip builds a directory in place (setuptools leaves build/ and *.egg-info there): build a copy.
        source = join(scratch, 'project');
        await cp(input.path, source, { recursive: true, filter: (src) => keepInCopy(input.path, src) });
      } else if (input.kind === 'sdist') {
        // pip knows an sdist by its file name; the store keeps files under their hash.
        source = join(scratch, filename.replace(/[\/]/g, '_'));
        await symlink(input.path, source);
      }
      opts.log?.(`Building a wheel from ${what} with ${opts.python}`);
      const args = ['-m', 'pip', 'wheel', '--no-deps', '--no-cache-dir', '-q', '-w', out, source];
      const { code, output } = await run(opts.python, args, env, opts.timeoutMs ?? 30 * 60_000);
      if (code !== 0) {
        const tail = redactText(output.trim()).split('\n').slice(-15).join('\n    ');
        throw new SdistBuildError(
          `Building a wheel from ${what} with ${opts.python} (\`python -m pip wheel --no-deps\`, its PEP 517 backend in an isolated environment) failed:\n    ${tail}\n` +
            'Install what the build needs (a compiler, headers), pick a version that has a wheel for this target, or give --python an interpreter that can build it.',
        );
      }
      const wheels = (await readdir(out)).filter((f) => f.endsWith('.whl'));
      if (wheels.length !== 1) throw new SdistBuildError(`Building ${what} with ${opts.python} gave ${wheels.length} wheels (${wheels.join(', ') || 'none'}), expected one.`);
      const wheelName = wheels[0]!;
      const w = parseWheelFilename(wheelName);
      if (wheelRank(w, opts.target) === undefined) {
        throw new SdistBuildError(
          `The wheel built from ${what}, ${wheelName}, has tags (${w.tags.join(', ')}) that do not fit target ${opts.target.id}: ` +
            `it was built by ${opts.python} for its own platform. A project that is not pure Python must be built by an interpreter of the target's ` +
            'platform and version: use a matching --python, or a version of it that has a wheel for the target.',
        );
      }
      const built = join(out, wheelName);
      await checkZipArchive(built, wheelName, what);
      const digest = await sha256File(built);
      const path = await opts.store.ensure(
        digest.sha256,
        async (tmp) => {
          await rename(built, tmp).catch((e: NodeJS.ErrnoException) => (e.code === 'EXDEV' ? copyFile(built, tmp) : Promise.reject(e)));
          return digest;
        },
        { label: wheelName },
      );
      if (recordPath) {
        await mkdir(builtDir, { recursive: true });
        await writeFileAtomic(recordPath, JSON.stringify({ filename: wheelName, sha256: digest.sha256, size: digest.size } satisfies BuiltRecord));
      }
      const result: BuiltWheel = { path, filename: wheelName, sha256: digest.sha256, size: (await stat(path)).size };
      return result;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  };
}
