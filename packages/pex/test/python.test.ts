import { pyCompare, pyJsonDumps, pyReprStr, pyReprTuple } from '@nx-pex/pex';
import { run } from './support';

const STRINGS = [
  '',
  'plain',
  "it's",
  'say "hi"',
  `both ' and "`,
  'back\\slash',
  'tab\tnew\nline\rcr',
  '\x00\x1f\x7f',
  'caf\u00e9',
  '\u00a0nbsp\u00ad',
  '\u2028sep',
  'snow\u2603man',
  'emoji \u{1f600}',
  '\u{e0001}tag',
  '~/.cache/pex',
];

describe('Python semantics', () => {
  it('repr() of strings and tuples matches CPython', () => {
    const out = run('python3', ['-c', 'import json,sys\nfor s in json.load(sys.stdin): print(json.dumps([repr(s), repr(tuple([s])), repr(tuple([s, s]))]))'], {
      input: JSON.stringify(STRINGS),
    }).check();
    const expected = out.trim().split('\n').map((l) => JSON.parse(l) as string[]);
    STRINGS.forEach((s, i) => {
      expect([pyReprStr(s), pyReprTuple([s]), pyReprTuple([s, s])]).toEqual(expected[i]);
    });
    expect(pyReprTuple([])).toBe('()');
  });

  it('json.dumps(sort_keys=True, separators=(",", ":")) matches CPython', () => {
    const value = {
      b: [1, true, null, 'x'],
      a: { z: '\u00e9\u{1f600}', '10': 'ten', '9': 'nine', A: '\x01\t' },
      'caf\u00e9': false,
      '\u{1f600}': 1,
      '\uffff': 2,
    };
    const py = run('python3', ['-c', 'import json,sys\nsys.stdout.write(json.dumps(json.load(sys.stdin), sort_keys=True, separators=(",", ":")))'], {
      input: JSON.stringify(value),
    }).check();
    expect(pyJsonDumps(value)).toBe(py);
  });

  it('orders strings by code point like sorted()', () => {
    const items = ['b', 'B', '_x', '.deps/a', '.bootstrap/z', 'PEX-INFO', '__main__.py', '__pex__/__init__.py', '\uffff', '\u{1f600}', 'a/b', 'a.py', 'a'];
    const py = run('python3', ['-c', 'import json,sys\nprint(json.dumps(sorted(json.load(sys.stdin))))'], {
      input: JSON.stringify(items),
    }).check();
    expect([...items].sort(pyCompare)).toEqual(JSON.parse(py));
  });
});
