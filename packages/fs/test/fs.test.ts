import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasIdentity, HOST_TAG, identityOf, removedOnInterrupt, sameIdentity, tempBeside, tryWriteFileAtomic, writeFileAtomic } from '@nx-pex/fs';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nx-pex-fs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temporary file', async () => {
    const file = join(dir, 'a', 'entry.json');
    await writeFileAtomic(file, 'one', { mkdir: true });
    await writeFileAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(join(dir, 'a'))).toEqual(['entry.json']);
  });

  it('throws what the rename threw, leaving what was there and no temporary file', async () => {
    const taken = join(dir, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'inside'), 'kept');
    await expect(writeFileAtomic(taken, 'new')).rejects.toMatchObject({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/) });
    expect(readFileSync(join(taken, 'inside'), 'utf8')).toBe('kept');
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('tryWriteFileAtomic says false instead of throwing', async () => {
    expect(await tryWriteFileAtomic(join(dir, 'missing', 'x'), 'y')).toBe(false);
    expect(await tryWriteFileAtomic(join(dir, 'x'), 'y')).toBe(true);
  });

  it('names its temporary file after the target, this host and this process, and stops tracking it after the write', async () => {
    const tmp = tempBeside(join(dir, 'pylock.toml'));
    expect(tmp.startsWith(join(dir, `.pylock.toml.${HOST_TAG}-${process.pid}.`))).toBe(true);
    expect(tmp).toMatch(/\.[0-9a-f]{12}\.tmp$/);
    await writeFileAtomic(join(dir, 'z'), 'z');
    expect(readdirSync(dir).some((n) => removedOnInterrupt(join(dir, n)))).toBe(false);
  });
});

describe('file identities', () => {
  it('an edit, a truncation or a replacement changes the identity', () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'content');
    const id = identityOf(statSync(file, { bigint: true }));
    expect(hasIdentity(statSync(file, { bigint: true }), id)).toBe(true);
    writeFileSync(file, 'conten');
    expect(hasIdentity(statSync(file, { bigint: true }), id)).toBe(false);
    const replaced = join(dir, 'g');
    writeFileSync(replaced, 'content');
    expect(sameIdentity(identityOf(statSync(replaced, { bigint: true })), id)).toBe(false);
    expect(hasIdentity(statSync(dir, { bigint: true }), identityOf(statSync(dir, { bigint: true })))).toBe(false); // not a file
  });
});
