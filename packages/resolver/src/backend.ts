/**
 * A project's own PEP 517 build backend, asked for the project's metadata: in a fresh virtual
 * environment (no packages of the interpreter's site-packages) holding the project's
 * `[build-system] requires` and what `get_requires_for_build_wheel` adds, installed by pip from
 * the build's indexes. `prepare_metadata_for_build_wheel` answers when the backend has it, else a
 * wheel is built and its METADATA and entry_points.txt are read.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { redactText, type IndexConfig } from '@nx-pex/index';
import { keepInCopy, pipIndexEnv } from './sdist';

/** A backend that could not say what a project's metadata is. */
export class BackendError extends UserError {}

export interface BackendMetadataOptions {
  /** The interpreter that runs the backend. */
  python: string;
  /** The project's directory (holding pyproject.toml). */
  projectDir: string;
  /** `[build-system] requires`. */
  requires: readonly string[];
  /** `[build-system] build-backend` (`module:object`). */
  backend: string;
  /** `[build-system] backend-path`. */
  backendPath?: readonly string[];
  /** Run in the project's directory, not in a copy (the version comes from the VCS, whose data a copy lacks). */
  inPlace?: boolean;
  /** The indexes build requirements come from (pip's configuration with the build's overrides). */
  index?: IndexConfig;
  env?: NodeJS.ProcessEnv;
  /** Told once per backend run (`Running the build backend ...`). */
  log?: (line: string) => void;
  timeoutMs?: number;
}

export interface BackendMetadata {
  /** The METADATA file's bytes. */
  metadata: Buffer;
  /** entry_points.txt, when the backend wrote one. */
  entryPoints?: Buffer;
  /** `prepare_metadata_for_build_wheel`, or `build_wheel` when the backend has no such hook. */
  hook: 'prepare_metadata_for_build_wheel' | 'build_wheel';
}

// Runs one hook of the backend; its answer goes to a file, so what the backend prints does not matter.
const DRIVER = String.raw`
import importlib, json, os, sys, zipfile
mode, out, answer = sys.argv[1], sys.argv[2], sys.argv[3]
spec = json.loads(os.environ["NX_PEX_BACKEND"])
for p in reversed(spec["path"]):
    sys.path.insert(0, os.path.abspath(p))
name, _, attrs = spec["backend"].partition(":")
backend = importlib.import_module(name.strip())
for a in filter(None, attrs.strip().split(".")):
    backend = getattr(backend, a)
if mode == "requires":
    hook = getattr(backend, "get_requires_for_build_wheel", None)
    result = {"requires": list(hook({}) if hook else [])}
else:
    hook = getattr(backend, "prepare_metadata_for_build_wheel", None)
    if hook is not None:
        result = {"hook": "prepare_metadata_for_build_wheel", "dist_info": os.path.join(out, hook(out, {}))}
    else:
        wheel_dir = os.path.join(out, "wheel")
        os.makedirs(wheel_dir)
        wheel = backend.build_wheel(wheel_dir, {})
        target = os.path.join(out, "from-wheel")
        with zipfile.ZipFile(os.path.join(wheel_dir, wheel)) as z:
            infos = [n for n in z.namelist() if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info")]
            for n in infos:
                if n.endswith(("/METADATA", "/entry_points.txt")):
                    z.extract(n, target)
        result = {"hook": "build_wheel", "dist_info": os.path.join(target, infos[0].split("/")[0])}
with open(answer, "w") as f:
    json.dump(result, f)
`;

function run(cmd: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd?: string; timeout: number }): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: o.env, cwd: o.cwd, timeout: o.timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout ?? ''}${stderr ?? ''}`;
      if (!err) return resolve({ code: 0, output });
      const e = err as NodeJS.ErrnoException & { code?: unknown };
      if (e.code === 'ENOENT') return resolve({ code: -1, output: `${cmd} was not found` });
      resolve({ code: typeof e.code === 'number' ? e.code : 1, output: output || e.message });
    });
  });
}

/** Asks a project's build backend for its metadata (see the module's comment). */
export async function backendMetadata(o: BackendMetadataOptions): Promise<BackendMetadata> {
  const timeout = o.timeoutMs ?? 30 * 60_000;
  const baseEnv = { ...pipIndexEnv(o.env ?? process.env, o.index), PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
  const what = `the build backend of ${o.projectDir} (${o.backend})`;
  const fail = (step: string, output: string): never => {
    const tail = redactText(output.trim()).split('\n').slice(-15).join('\n    ');
    throw new BackendError(
      `${step} for ${what} failed:\n    ${tail}\n` +
        'Fix the project\'s [build-system] (its requires must be installable from the configured indexes) or what its backend reports above.',
    );
  };
  o.log?.(`Running ${what} for its metadata`);
  const scratch = await mkdtemp(join(tmpdir(), 'nx-pex-backend-'));
  try {
    const venv = join(scratch, 'env');
    const made = await run(o.python, ['-m', 'venv', '--without-pip', venv], { env: baseEnv, timeout });
    if (made.code !== 0) fail(`Making a virtual environment with ${o.python}`, made.output);
    const py = join(venv, 'bin', 'python');
    const install = async (reqs: readonly string[]) => {
      if (reqs.length === 0) return;
      const r = await run(o.python, ['-m', 'pip', '--python', py, 'install', '-q', '--no-cache-dir', ...reqs], { env: baseEnv, timeout });
      if (r.code !== 0) fail(`Installing the build requirements (${reqs.join(', ')})`, r.output);
    };
    await install(o.requires);
    let cwd = o.projectDir;
    if (!o.inPlace) {
      cwd = join(scratch, 'project');
      await cp(o.projectDir, cwd, { recursive: true, filter: (src) => keepInCopy(o.projectDir, src) });
    }
    const driver = join(scratch, 'driver.py');
    await writeFile(driver, DRIVER);
    const env: NodeJS.ProcessEnv = { ...baseEnv, NX_PEX_BACKEND: JSON.stringify({ backend: o.backend, path: o.backendPath ?? [] }) };
    delete env.PYTHONPATH;
    delete env.PYTHONHOME;
    const answer = join(scratch, 'answer.json');
    const hook = async (mode: string) => {
      const out = join(scratch, `out-${mode}`);
      await mkdir(out);
      const r = await run(py, [driver, mode, out, answer], { env, cwd, timeout });
      if (r.code !== 0) fail(mode === 'requires' ? 'get_requires_for_build_wheel' : 'prepare_metadata_for_build_wheel (or build_wheel)', r.output);
      return JSON.parse(await readFile(answer, 'utf8')) as { requires?: string[]; hook?: BackendMetadata['hook']; dist_info?: string };
    };
    await install((await hook('requires')).requires ?? []);
    const result = await hook('metadata');
    const dir = result.dist_info!;
    const names = await readdir(dir);
    if (!names.includes('METADATA')) throw new BackendError(`${what} wrote no METADATA in ${dir.split('/').pop()}.`);
    return {
      metadata: await readFile(join(dir, 'METADATA')),
      entryPoints: names.includes('entry_points.txt') ? await readFile(join(dir, 'entry_points.txt')) : undefined,
      hook: result.hook!,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
