import { inCI, missing, whyMissing } from '@nx-pex/testkit';

test('CI is read as the CI variable says', () => {
  expect(inCI({ CI: 'true' })).toBe(true);
  expect(inCI({ CI: '1' })).toBe(true);
  expect(inCI({ CI: 'false' })).toBe(false);
  expect(inCI({})).toBe(false);
});

test('a pyenv interpreter that cannot exist is missing, with how to get it', () => {
  expect(whyMissing('python3.99')).toMatch(/no pyenv CPython 3\.99/);
  expect(missing(['python3.99'])).toMatch(/^needs python3\.99: /);
});

test('nothing is missing when nothing is asked for', () => {
  expect(missing([])).toBeUndefined();
});

test('the system python3 is checked for the version a capability names', () => {
  expect(whyMissing('python3=3.99')).toMatch(/python3 on PATH is not CPython 3\.99|no python3 runs/);
  expect(whyMissing('python3')).toBeUndefined();
});
