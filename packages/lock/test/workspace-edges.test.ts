import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lockWorkspaceEdges, parseUvLock, universalClosure } from '@nx-pex/lock';
import { FIXTURES } from './helpers';

const REPO = join(__dirname, '..', '..', '..');

/** A uv workspace where cli needs evals only through an extra of lib that app asks for. */
const EXTRAS_LOCK = `version = 1
revision = 3
requires-python = ">=3.11"

[manifest]
members = ["app", "cli", "evals", "lib", "other"]

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "app" }
dependencies = [{ name = "lib", extra = ["evals"] }]

[[package]]
name = "cli"
version = "0.1.0"
source = { editable = "cli" }
dependencies = [{ name = "app" }, { name = "six", marker = "sys_platform == 'win32'" }]

[[package]]
name = "evals"
version = "0.1.0"
source = { editable = "evals" }

[[package]]
name = "lib"
version = "0.1.0"
source = { editable = "lib" }

[package.optional-dependencies]
evals = [{ name = "evals" }]

[[package]]
name = "other"
version = "0.1.0"
source = { editable = "other" }
dependencies = [{ name = "lib" }]

[[package]]
name = "six"
version = "1.17.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:${'a'.repeat(64)}" }]
`;

describe('lockWorkspaceEdges', () => {
  it('follows extras of workspace dependencies: cli → app → lib[evals] → evals gives cli an edge to evals', () => {
    const edges = lockWorkspaceEdges(parseUvLock(EXTRAS_LOCK, '/ws/uv.lock'));
    expect(Object.fromEntries([...edges].map(([k, v]) => [k, v.needs]))).toEqual({
      app: ['evals', 'lib'],
      cli: ['app', 'evals', 'lib'],
      evals: [],
      lib: [],
      // lib without its extra: evals is not in other's closure.
      other: ['lib'],
    });
    expect(edges.get('cli')!.path).toBe('cli');
  });

  it.each([
    [join(REPO, 'examples', 'uv.lock')],
    [join(FIXTURES, 'workspace', 'uv.lock')],
    [join(REPO, 'plugins', 'nx-pex', 'test', 'fixtures', 'affected', 'uv.lock')],
  ])('holds every first-party package the closure written to pylock.toml holds (%s)', (file) => {
    const lock = parseUvLock(readFileSync(file, 'utf8'), file);
    const edges = lockWorkspaceEdges(lock);
    for (const [name, e] of edges) {
      if (lock.packages.find((p) => p.name === name)?.source.kind === 'virtual') continue;
      const closure = universalClosure(lock, name).filter((x) => x.firstParty && x.pkg.name !== name).map((x) => x.pkg.name);
      expect([name, e.needs]).toEqual([name, expect.arrayContaining(closure)]);
    }
  });
});
