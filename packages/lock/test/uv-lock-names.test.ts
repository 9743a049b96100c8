/** Names in a uv.lock that become file names are file names, not paths. */
import { parseUvLock } from '@nx-pex/lock';

const lock = (wheel: string) =>
  [
    'version = 1',
    'requires-python = ">=3.8"',
    '',
    '[[package]]',
    'name = "evil"',
    'version = "1.0"',
    'source = { registry = "https://pypi.org/simple" }',
    `wheels = [${wheel}]`,
    '',
  ].join('\n');

it.each([
  ['a filename key with a path', '{ url = "https://files.example/evil-1.0-py3-none-any.whl", filename = "../../evil-1.0-py3-none-any.whl", hash = "sha256:' + 'ab'.repeat(32) + '" }'],
  ['a filename key with a backslash', '{ url = "https://files.example/e.whl", filename = "..\\\\evil-1.0-py3-none-any.whl", hash = "sha256:' + 'ab'.repeat(32) + '" }'],
  ['a hidden filename', '{ url = "https://files.example/e.whl", filename = ".evil-1.0-py3-none-any.whl", hash = "sha256:' + 'ab'.repeat(32) + '" }'],
])('refuses %s, naming the lock file', (_what, wheel) => {
  expect(() => parseUvLock(lock(wheel), '/ws/uv.lock')).toThrow(/\/ws\/uv\.lock.*evil.*is not a file name/s);
});

it('takes a plain wheel file name', () => {
  const wheel = '{ url = "https://files.example/a/b/evil-1.0-py3-none-any.whl", hash = "sha256:' + 'ab'.repeat(32) + '" }';
  expect(parseUvLock(lock(wheel), '/ws/uv.lock').packages[0]!.wheels[0]!.filename).toBe('evil-1.0-py3-none-any.whl');
});
