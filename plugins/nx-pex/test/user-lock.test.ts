/**
 * A user's own pylock.toml (one without nx-pex's header) is the user's: the plugin infers no
 * `lock` target that would overwrite it, while a service without a lock, or with a lock nx-pex
 * wrote, keeps its `lock` target.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodes } from '../src';

let ws: string;

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'nx-pex-user-lock-'));
  await mkdir(join(ws, 'svc', 'src', 'svc'), { recursive: true });
  await writeFile(join(ws, 'svc', 'pyproject.toml'), '[project]\nname = "svc"\nversion = "1.0"\ndependencies = ["six"]\n[project.scripts]\nsvc = "svc.main:main"\n');
  await writeFile(join(ws, 'svc', 'src', 'svc', '__init__.py'), '');
});

afterEach(async () => {
  await rm(ws, { recursive: true, force: true });
});

async function targets(): Promise<Record<string, unknown>> {
  const results = await createNodes[1](['svc/pyproject.toml'], {}, { nxJsonConfiguration: {}, workspaceRoot: ws });
  return Object.fromEntries(results)['svc/pyproject.toml']!.projects!.svc!.targets!;
}

const PYLOCK = 'lock-version = "1.0"\ncreated-by = "someone"\n\n[[packages]]\nname = "six"\nversion = "1.17.0"\n';

it('infers a lock target for a service without a lock', async () => {
  expect(await targets()).toHaveProperty('lock');
});

it("infers none over a user's own pylock.toml", async () => {
  await writeFile(join(ws, 'svc', 'pylock.toml'), PYLOCK);
  const t = await targets();
  expect(t).not.toHaveProperty('lock');
  expect(t).toHaveProperty('build');
});

it('keeps it over a pylock.toml that `nx-pex lock` wrote', async () => {
  await writeFile(join(ws, 'svc', 'pylock.toml'), `# Written by \`nx-pex lock\` from the indexes: run \`nx-pex lock\` (or \`nx run <project>:lock\`) again to refresh it.\n${PYLOCK}`);
  expect(await targets()).toHaveProperty('lock');
});
