/**
 * The repository's layout as the design has it: the plugin is Nx glue (small, and nothing else
 * imports it), and no package imports a later stage of the pipeline.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './support';

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/from '(@nx-pex\/[a-z-]+|nx-pex[^']*)'/g)].map((m) => m[1]!);

// Each stage, and the ones it may import (earlier in the pipeline).
const STAGES: Record<string, string[]> = {
  fs: [],
  pep: [],
  interpreter: ['fs', 'pep'],
  project: ['pep'],
  lock: ['pep'],
  index: ['pep'],
  store: ['fs', 'pep', 'index'],
  resolver: ['fs', 'pep', 'interpreter', 'index', 'lock', 'store'],
  // The PEX writer needs files written atomically, not the store (and its HTTP client).
  pex: ['fs', 'pep'],
  // Images take the wheels from the store and install them with the PEX writer's installer.
  image: ['fs', 'pep', 'index', 'store', 'pex'],
  engine: ['fs', 'pep', 'interpreter', 'project', 'lock', 'index', 'store', 'resolver', 'pex', 'image'],
  cli: ['pep', 'project', 'store', 'engine'],
};

// Four inferred targets (build, lock, test, push), their executors with one batch runner, five
// generators, and createNodes/createDependencies over the engine's workspace graph (which lock
// governs a project, lock summaries, per-project lock state: packages/engine/src/workspace-graph),
// and the sync generator's scoping to the registration's include/exclude (Nx's semantics). The
// bound sits just above what that takes (1,650 lines), so logic that works without Nx and lands in
// the plugin fails here.
it('keeps the plugin to Nx glue: under 1,700 lines of source', () => {
  const lines = sources(join(REPO, 'plugins', 'nx-pex', 'src')).reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length - 1, 0);
  expect(lines).toBeLessThan(1700);
});

it('has no package import the plugin or a later stage of the pipeline', () => {
  const packages = readdirSync(join(REPO, 'packages'));
  expect(packages.sort()).toEqual(Object.keys(STAGES).sort());
  for (const pkg of packages) {
    for (const file of sources(join(REPO, 'packages', pkg, 'src'))) {
      for (const spec of importsOf(file)) {
        expect({ file, spec, allowed: spec.startsWith('@nx-pex/') && STAGES[pkg]!.includes(spec.slice('@nx-pex/'.length)) }).toEqual({ file, spec, allowed: true });
      }
    }
  }
});
