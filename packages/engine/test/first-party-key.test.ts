/**
 * The store key of a project's backend metadata: exactly what the backend reads for metadata, so
 * that a code edit keeps it (no backend runs) and an edit of any such file changes it.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readPyproject } from '@nx-pex/project';
import { metadataKey } from '../src/first-party';

let dir: string;
const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' };

async function write(rel: string, text: string): Promise<void> {
  await mkdir(dirname(join(dir, rel)), { recursive: true });
  await writeFile(join(dir, rel), text);
}

const key = async () => metadataKey(await readPyproject(join(dir, 'pyproject.toml')), 'python3', env);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nx-pex-key-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOOKED = `[project]
name = "hooked"
dynamic = ["version", "dependencies"]
readme = "README.md"
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
[tool.hatch.version]
path = "src/hooked/__about__.py"
[tool.hatch.metadata.hooks.custom]
`;

it('keeps the key through code edits and changes it with pyproject.toml, the hook, the version file and the readme', async () => {
  await write('pyproject.toml', HOOKED);
  await write('hatch_build.py', 'HOOK = 1\n');
  await write('src/hooked/__about__.py', '__version__ = "1.0"\n');
  await write('src/hooked/__init__.py', 'def main(): pass\n');
  await write('README.md', '# hooked\n');
  await write('tests/test_it.py', '');
  const seen = new Set<string>();
  const first = await key();
  seen.add(first);

  await write('src/hooked/__init__.py', 'def main(): print("edited")\n');
  await write('src/hooked/new_module.py', 'X = 1\n');
  await write('tests/test_it.py', 'def test(): pass\n');
  expect(await key()).toBe(first);

  for (const [file, text] of [
    ['hatch_build.py', 'HOOK = 2\n'],
    ['src/hooked/__about__.py', '__version__ = "1.1"\n'],
    ['README.md', '# hooked, described\n'],
    ['pyproject.toml', `${HOOKED}# a comment\n`],
  ] as const) {
    await write(file, text);
    const k = await key();
    expect({ file, fresh: !seen.has(k) }).toEqual({ file, fresh: true });
    seen.add(k);
  }
});

it('with a version from the VCS: the commit and tags are inputs, and a dirty tree, but not what the edit is', async () => {
  await write('pyproject.toml', '[project]\nname = "scm"\ndynamic = ["version"]\n[build-system]\nrequires = ["hatchling", "hatch-vcs"]\nbuild-backend = "hatchling.build"\n[tool.hatch.version]\nsource = "vcs"\n');
  await write('src/scm/__init__.py', 'A = 1\n');
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { env, stdio: 'ignore' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'one');
  const clean = await key();
  expect(await key()).toBe(clean);
  git('tag', 'v1.0');
  const tagged = await key();
  expect(tagged).not.toBe(clean);
  await write('src/scm/__init__.py', 'A = 2\n');
  const dirty = await key();
  expect(dirty).not.toBe(tagged);
  await write('src/scm/__init__.py', 'A = 3\n');
  expect(await key()).toBe(dirty);
  git('commit', '-qam', 'two');
  expect(await key()).not.toBe(dirty);
});
