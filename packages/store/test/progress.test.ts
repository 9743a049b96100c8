import { createProgressReporter } from '../src';

function lineReporter() {
  const lines: string[] = [];
  let t = 0;
  const p = createProgressReporter({ tty: false, write: (s) => lines.push(s), now: () => (t += 100) });
  return { p, lines };
}

describe('download progress', () => {
  it('writes one summary per batch: a second batch (the runtime) does not repeat the first one\'s', () => {
    const { p, lines } = lineReporter();
    for (const f of ['a-1-py3-none-any.whl', 'b-1-py3-none-any.whl']) {
      p.start(f, 10);
      p.advance(f, 10);
      p.done(f, true);
    }
    p.finish();
    p.start('pex-2.105.2-py3-none-any.whl', 5, 'the nx-pex package');
    p.advance('pex-2.105.2-py3-none-any.whl', 5);
    p.done('pex-2.105.2-py3-none-any.whl', true);
    p.finish();
    expect(lines.filter((l) => /^Downloaded \d+ of \d+ files/.test(l))).toEqual([expect.stringMatching(/^Downloaded 2 of 2 files \(20 B\) in [\d.]+ s\n$/)]);
    expect(lines).toContain('Copied pex-2.105.2-py3-none-any.whl from the nx-pex package\n');
    expect(lines.join('')).not.toMatch(/Downloaded pex-/);
  });

  it('does not count a copied file as a download', () => {
    const { p, lines } = lineReporter();
    p.start('six.whl', 3, 'a local directory');
    p.done('six.whl', true);
    p.start('a.whl', 3);
    p.done('a.whl', true);
    p.finish();
    expect(lines).toEqual(['Copied six.whl from a local directory\n', expect.stringMatching(/^Downloaded a\.whl/)]);
  });
});
