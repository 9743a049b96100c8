/**
 * The two layers nx-pex adds to a base image. The dependency layer is the closure installed as a
 * venv the way `pex venv --scope=deps` lays one out (`bin/python` pointing at the base's
 * interpreter, `pyvenv.cfg`, `lib/pythonX.Y/site-packages` from the wheels), kept in the store
 * once per (wheels, venv path, interpreter), so every service with that closure and base has the
 * same blob. The sources layer is first-party code in the same site-packages, plus a console
 * script per image entry point.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { installWheelVenv, readWheel, venvConsoleScript, type VenvFile } from '@nx-pex/pex';
import { ensureLayer, type WheelStore } from '@nx-pex/store';
import { writeGzipLayer, type LayerBlob } from './blobs';
import { ImageError } from './errors';
import { entryChunks, layerEntries, tarEnd, type TarEntry } from './tar';
import type { BasePython } from './base';

/** Where the venv lives in images nx-pex writes. */
export const DEFAULT_VENV = '/opt/venv';

/** Bumped when the dependency layer's bytes change for the same inputs. */
const DEPS_LAYER_FORMAT = 'nx-pex-image-deps-2';

export interface LayerWheel {
  filename: string;
  path: string;
  sha256: string;
}

export interface StoredLayer extends LayerBlob {
  /** The gzipped tar in the store. */
  path: string;
  reused: boolean;
  files: number;
}

function venvRoot(venv: string): string {
  return venv.replace(/^\/+/, '').replace(/\/+$/, '');
}

function filesToEntries(prefix: string, files: Map<string, VenvFile>): TarEntry[] {
  return [...files].map(([p, f]) => ({ path: `${prefix}/${p}`, type: 'file' as const, data: f.data, mode: f.executable ? 0o755 : 0o644 }));
}

/** The venv's own files: interpreter links and `pyvenv.cfg` (what `python -m venv --without-pip` makes). */
function venvSkeleton(prefix: string, python: BasePython): TarEntry[] {
  const home = python.path.slice(0, python.path.lastIndexOf('/')) || '/';
  const cfg = `home = ${home}\ninclude-system-site-packages = false\nversion = ${python.version}\n`;
  return [
    { path: `${prefix}/bin/python`, type: 'symlink', target: python.path },
    { path: `${prefix}/bin/python3`, type: 'symlink', target: 'python' },
    { path: `${prefix}/bin/python${python.version}`, type: 'symlink', target: 'python' },
    { path: `${prefix}/lib/python${python.version}/site-packages`, type: 'dir', mode: 0o755 },
    { path: `${prefix}/lib64`, type: 'symlink', target: 'lib' },
    { path: `${prefix}/include`, type: 'dir', mode: 0o755 },
    { path: `${prefix}/pyvenv.cfg`, type: 'file', data: Buffer.from(cfg, 'utf8'), mode: 0o644 },
  ];
}

export function depsLayerKey(wheels: readonly LayerWheel[], venv: string, python: BasePython): string {
  const h = createHash('sha256');
  h.update(`${DEPS_LAYER_FORMAT}\0${venv}\0${python.path}\0${python.version}\0`);
  for (const w of [...wheels].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0))) h.update(`${w.filename}\0${w.sha256.toLowerCase()}\0`);
  return h.digest('hex');
}

/** The dependency layer for these wheels, from the store, or installed and stored first. */
export async function depsLayer(store: WheelStore, wheels: readonly LayerWheel[], venv: string, python: BasePython): Promise<StoredLayer> {
  const key = depsLayerKey(wheels, venv, python);
  let files = 0;
  const layer = await ensureLayer(store, key, async (dir) => {
    const prefix = venvRoot(venv);
    const sorted = [...wheels].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    // One wheel in memory at a time: the venv's own entries, then each wheel's (sorted by path,
    // parents first), wheels in file-name order; a directory is written once.
    const written = new Set<string>();
    const group = function* (entries: TarEntry[]): Generator<Buffer> {
      for (const e of layerEntries(entries)) {
        if (e.type === 'dir') {
          if (written.has(e.path)) continue;
          written.add(e.path);
        }
        files++;
        yield* entryChunks(e);
      }
    };
    const chunks = async function* (): AsyncGenerator<Buffer> {
      yield* group(venvSkeleton(prefix, python));
      for (const w of sorted) {
        const bytes = await readFile(w.path);
        const got = createHash('sha256').update(bytes).digest('hex');
        if (got !== w.sha256.toLowerCase()) throw new ImageError(`The wheel ${w.filename} in the store (${w.path}) has the sha256 ${got}, not ${w.sha256}; run nx-pex cache verify.`);
        const installed = installWheelVenv(await readWheel(bytes, w.path, w.filename), { venv, python: `python${python.version}` });
        yield* group(filesToEntries(prefix, installed));
      }
      yield tarEnd();
    };
    const blob = await writeGzipLayer(chunks(), join(dir, 'layer.tar.gz'));
    await writeFile(join(dir, 'layer.json'), `${JSON.stringify({ kind: 'image-deps', ...blob, files, venv, python, wheels: sorted.map((w) => w.filename) }, null, 1)}\n`);
  });
  const info = JSON.parse(await readFile(join(layer.path, 'layer.json'), 'utf8')) as LayerBlob & { files: number };
  return { mediaType: info.mediaType, digest: info.digest, size: info.size, diffId: info.diffId, files: info.files, path: join(layer.path, 'layer.tar.gz'), reused: layer.reused };
}

export interface ImageScript {
  /** The console script's name: `<venv>/bin/<name>`, the image's entrypoint. */
  name: string;
  /** `module:attr`. */
  entryPoint: string;
}

export interface SourceFile {
  /** posix path in site-packages. */
  path: string;
  absPath: string;
}

/** The sources layer's tar entries: first-party files in site-packages, and a console script per entry point. */
export async function sourcesLayerEntries(sources: readonly SourceFile[], scripts: readonly ImageScript[], venv: string, python: BasePython): Promise<TarEntry[]> {
  const prefix = venvRoot(venv);
  const sp = `${prefix}/lib/python${python.version}/site-packages`;
  const entries: TarEntry[] = [];
  for (const s of sources) {
    if (/(^|\/)__pycache__\//.test(s.path) || /\.py[co]$/.test(s.path)) continue;
    const [data, st] = await Promise.all([readFile(s.absPath), stat(s.absPath)]);
    entries.push({ path: `${sp}/${s.path}`, type: 'file', data, mode: st.mode & 0o111 ? 0o755 : 0o644 });
  }
  for (const s of scripts) {
    entries.push({ path: `${prefix}/bin/${s.name}`, type: 'file', data: venvConsoleScript(s.entryPoint, `${venv.replace(/\/+$/, '')}/bin/python`), mode: 0o755 });
  }
  return layerEntries(entries);
}
