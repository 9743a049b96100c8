/**
 * Workspace projects in a test environment as editable installs, in PEP 660's form: each
 * project's code stays in its source tree (its import roots go on `sys.path`, so an edit needs no
 * rebuild), and a `<name>-<version>.dist-info` per project, with the same METADATA and entry
 * points a PEX build gives it (`first-party.ts`), goes on `sys.path` beside them, so that
 * `importlib.metadata` answers inside tests as it does in the built PEX. The dist-info
 * directories of a project's closure live in one small store layer (the overlay), keyed by
 * exactly what they say: each project's directory, top-level names and metadata key. A run whose
 * metadata did not change finds its overlay in the store and writes nothing.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { distInfoFiles, hasVersion, layoutImportRoots, projectLayout, type ProjectLayout, type PyProject } from '@nx-pex/project';
import type { Closure } from '@nx-pex/lock';
import { ensureLayer, WheelStore } from '@nx-pex/store';
import { distInfoMetadataKey, firstPartyMetadata, lazyIndexConfig } from './first-party';
import { lockedProjects } from './pipeline';
import type { IndexOverrides } from './index-overrides';

/** Bumped whenever an overlay made from the same inputs would differ. */
const TEST_OVERLAY_FORMAT = 1;

/** One workspace project of a test run, installed in editable form. */
export interface EditableProject {
  project: PyProject;
  /** Directories put on `sys.path` for its code (e.g. its `src/`). */
  roots: string[];
  /** The top-level packages and modules its layout installs (`top_level.txt`). */
  topLevel: string[];
  /**
   * It gets a dist-info: false for a project without a version (uv takes it as virtual) and for
   * one whose layout only its build backend knows (its code is not on the path either).
   */
  distribution: boolean;
}

/** The top-level names a layout installs, as import names (`pkg`, `mod` for `mod.py`). */
function topLevelNames(layout: ProjectLayout): string[] {
  const names = layout.items.map((i) => i.dest.split('/')[0]!).map((n) => (n.endsWith('.py') ? n.slice(0, -3) : n));
  return [...new Set(names)].sort();
}

async function editableProject(project: PyProject, underTest: boolean): Promise<EditableProject> {
  let layout: ProjectLayout;
  try {
    layout = await projectLayout(project);
  } catch (e) {
    // A project of tests only: nothing of it to import, but it is still a distribution.
    if (underTest && e instanceof UserError) return { project, roots: [], topLevel: [], distribution: hasVersion(project) };
    throw e;
  }
  if (layout.backend) return { project, roots: [], topLevel: [], distribution: false };
  return { project, roots: layoutImportRoots(layout).map((r) => r.dir), topLevel: topLevelNames(layout), distribution: hasVersion(project) };
}

/**
 * The workspace projects of a test run: the project under test first, then those its test
 * closure holds (by name).
 */
export async function editableProjects(project: PyProject, closure: Closure, lockFile: string): Promise<EditableProject[]> {
  const others = closure.firstParty.filter((p) => p.name !== project.canonicalName).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const projects = [project, ...(await lockedProjects(others, lockFile))];
  return Promise.all(projects.map((p, i) => editableProject(p, i === 0)));
}

/** What an overlay's dist-info of one project is made from. */
export interface OverlayEntry {
  /** The project's directory (recorded in `direct_url.json`). */
  dir: string;
  topLevel: string[];
  /** `distInfoMetadataKey` of the project. */
  metadataKey: string;
}

/** The store key of an overlay: exactly its entries, whatever their order. */
export function testOverlayKey(entries: readonly OverlayEntry[]): string {
  const rows = entries.map((e) => JSON.stringify([e.dir, e.topLevel, e.metadataKey])).sort();
  return createHash('sha256').update(JSON.stringify({ format: TEST_OVERLAY_FORMAT, kind: 'test-overlay', rows })).digest('hex');
}

export interface TestOverlayOptions {
  storeRoot: string;
  /** The interpreter that runs a build backend for dynamic metadata; default `python3`. */
  python?: string;
  /** Directory whose index settings apply to a backend's build requirements. */
  projectRoot: string;
  indexes?: IndexOverrides;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Holds the overlay's layer for the caller (see `TestEnvironmentOptions.lease`). */
  lease?: WheelStore;
}

export interface TestOverlay {
  /** The directory to put on `sys.path`: it holds the dist-info directories and nothing else. */
  site: string;
  key: string;
  reused: boolean;
}

// Overlays being made or found in this process (a batch of test tasks shares them), by key.
const overlays = new Map<string, Promise<TestOverlay>>();

/**
 * The overlay of `projects` (those that are distributions): from the store when it has one with
 * the same key, else made (a backend asked only for dynamic metadata its store record lacks).
 * Undefined when no project is a distribution.
 */
export async function ensureTestOverlay(projects: readonly EditableProject[], o: TestOverlayOptions): Promise<TestOverlay | undefined> {
  const env = o.env ?? process.env;
  const python = o.python ?? 'python3';
  const dists = projects.filter((p) => p.distribution);
  if (dists.length === 0) return undefined;
  const entries = await Promise.all(
    dists.map(async (p) => ({ dir: resolve(p.project.dir), topLevel: p.topLevel, metadataKey: await distInfoMetadataKey(p.project, python, env) })),
  );
  const key = testOverlayKey(entries);
  await o.lease?.hold(key);
  const id = `${resolve(o.storeRoot)}\0${key}`;
  let pending = overlays.get(id);
  if (!pending) {
    pending = writeOverlay(dists, key, { ...o, env, python });
    overlays.set(id, pending);
    pending.catch(() => overlays.delete(id));
  }
  return pending;
}

async function writeOverlay(dists: readonly EditableProject[], key: string, o: TestOverlayOptions & { env: NodeJS.ProcessEnv; python: string }): Promise<TestOverlay> {
  const store = new WheelStore(o.storeRoot);
  try {
    const layer = await ensureLayer(store, key, async (dir) => {
      const index = lazyIndexConfig(o.projectRoot, o.indexes, o.env);
      const installed: string[] = [];
      for (const { project, topLevel } of dists) {
        const meta = await firstPartyMetadata(project, { python: o.python, storeRoot: o.storeRoot, index, env: o.env, log: o.log });
        const files = distInfoFiles({ ...meta, files: [], topLevel, editableDir: resolve(project.dir) });
        for (const f of files) {
          const at = join(dir, 'site', ...f.path.split('/'));
          await mkdir(join(at, '..'), { recursive: true });
          await writeFile(at, f.data);
        }
        installed.push(`${meta.name}==${meta.version}`);
      }
      await writeFile(join(dir, 'layer.json'), `${JSON.stringify({ kind: 'test-overlay', editable: installed.sort() }, null, 1)}\n`);
    });
    if (!layer.reused) o.log?.(`editable dist-info of ${dists.map((d) => d.project.name).join(', ')} written to the store (${join(layer.path, 'site')})`);
    return { site: join(layer.path, 'site'), key, reused: layer.reused };
  } finally {
    await store.release();
  }
}
