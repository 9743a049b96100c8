import { join } from 'node:path';
import { lockClosure, readUvLock, rootRequirements, selectWheels } from '@nx-pex/lock';
import { linuxTarget } from './helpers';

// The example workspace shipped with the repository. Expected closures are what
// `uv sync --frozen --no-dev --package <p> --dry-run` installs with CPython 3.11 on Linux.
const EXAMPLE_LOCK = join(__dirname, '..', '..', '..', 'examples', 'uv.lock');

describe('the example workspace lock', () => {
  it('gives each service the packages uv would install, each with a wheel', async () => {
    const lock = await readUvLock(EXAMPLE_LOCK);
    const target = linuxTarget('cp311');
    const a = lockClosure(lock, 'service-a', target);
    expect(a.firstParty.map((p) => p.name)).toEqual(['greeting', 'service-a']);
    expect(a.thirdParty.map((p) => p.name)).toEqual(
      expect.arrayContaining(['anyio', 'fastapi', 'pydantic', 'pydantic-core', 'starlette', 'uvicorn', 'h11', 'click', 'idna', 'typing-extensions']),
    );
    const b = lockClosure(lock, 'service-b', target);
    expect(b.packages.map((e) => e.pkg.name)).toEqual(['greeting', 'numpy', 'service-b']);
    for (const c of [a, b]) {
      const wheels = selectWheels(c, target, lock.path);
      expect(wheels).toHaveLength(c.thirdParty.length);
      for (const { wheel } of wheels) expect(wheel.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(rootRequirements(c).length).toBeGreaterThan(0);
      expect(rootRequirements(c).some((r) => r.startsWith('greeting'))).toBe(false);
    }
    expect(lockClosure(lock, 'greeting', target).packages.map((e) => e.pkg.name)).toEqual(['greeting']);
  });
});
