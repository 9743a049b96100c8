import { evaluateMarker, Marker, MarkerEnvironment, MarkerEvaluationError, markerToString, MarkerSyntaxError, parseMarker, UserError } from '@nx-pex/pep';

const ENVS: Record<string, MarkerEnvironment> = {
 "linux311": {
  "implementation_name": "cpython",
  "implementation_version": "3.11.7",
  "os_name": "posix",
  "platform_machine": "x86_64",
  "platform_release": "6.1.0-13-amd64",
  "platform_system": "Linux",
  "platform_version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)",
  "python_full_version": "3.11.7",
  "platform_python_implementation": "CPython",
  "python_version": "3.11",
  "sys_platform": "linux"
 },
 "win38": {
  "implementation_name": "cpython",
  "implementation_version": "3.8.10",
  "os_name": "nt",
  "platform_machine": "AMD64",
  "platform_release": "10",
  "platform_system": "Windows",
  "platform_version": "10.0.19041",
  "python_full_version": "3.8.10",
  "platform_python_implementation": "CPython",
  "python_version": "3.8",
  "sys_platform": "win32"
 },
 "mac313rc": {
  "implementation_name": "cpython",
  "implementation_version": "3.13.0rc1",
  "os_name": "posix",
  "platform_machine": "arm64",
  "platform_release": "23.2.0",
  "platform_system": "Darwin",
  "platform_version": "Darwin Kernel Version 23.2.0",
  "python_full_version": "3.13.0rc1",
  "platform_python_implementation": "CPython",
  "python_version": "3.13",
  "sys_platform": "darwin"
 },
 "pypy39": {
  "implementation_name": "pypy",
  "implementation_version": "7.3.11",
  "os_name": "posix",
  "platform_machine": "aarch64",
  "platform_release": "5.15.0",
  "platform_system": "Linux",
  "platform_version": "#1 SMP",
  "python_full_version": "3.9.16",
  "platform_python_implementation": "PyPy",
  "python_version": "3.9",
  "sys_platform": "cygwin"
 }
};

// [marker, str(Marker(marker)), Marker(marker).evaluate(env) per env], captured from packaging 26.3.
// Markers from PEP 508's test grammar and from real METADATA / uv.lock files.
const PACKAGING: [string, string, Record<string, boolean>][] = [
  ["sys_platform == \"win32\"", "sys_platform == \"win32\"", {"linux311": false, "win38": true, "mac313rc": false, "pypy39": false}],
  ["python_version < \"3.13\"", "python_version < \"3.13\"", {"linux311": true, "win38": true, "mac313rc": false, "pypy39": true}],
  ["platform_system == \"Windows\"", "platform_system == \"Windows\"", {"linux311": false, "win38": true, "mac313rc": false, "pypy39": false}],
  ["sys_platform != \"win32\" and (sys_platform != \"cygwin\" and platform_python_implementation != \"PyPy\")", "sys_platform != \"win32\" and (sys_platform != \"cygwin\" and platform_python_implementation != \"PyPy\")", {"linux311": true, "win38": false, "mac313rc": true, "pypy39": false}],
  ["os_name=='a' or os_name=='b'", "os_name == \"a\" or os_name == \"b\"", {"linux311": false, "win38": false, "mac313rc": false, "pypy39": false}],
  ["os_name=='a' and os_name=='b' or os_name=='c'", "os_name == \"a\" and os_name == \"b\" or os_name == \"c\"", {"linux311": false, "win38": false, "mac313rc": false, "pypy39": false}],
  ["os_name=='posix' and (os_name=='b' or os_name=='c')", "os_name == \"posix\" and (os_name == \"b\" or os_name == \"c\")", {"linux311": false, "win38": false, "mac313rc": false, "pypy39": false}],
  ["os_name=='nt' or os_name=='b' and os_name=='c'", "os_name == \"nt\" or os_name == \"b\" and os_name == \"c\"", {"linux311": false, "win38": true, "mac313rc": false, "pypy39": false}],
  ["(os_name=='nt' or os_name=='posix') and sys_platform=='linux'", "(os_name == \"nt\" or os_name == \"posix\") and sys_platform == \"linux\"", {"linux311": true, "win38": false, "mac313rc": false, "pypy39": false}],
  ["python_version<'2.7' and platform_version=='2'", "python_version < \"2.7\" and platform_version == \"2\"", {"linux311": false, "win38": false, "mac313rc": false, "pypy39": false}],
  ["python_full_version >= \"3.8.1\"", "python_full_version >= \"3.8.1\"", {"linux311": true, "win38": true, "mac313rc": true, "pypy39": true}],
  ["python_full_version < \"3.13\"", "python_full_version < \"3.13\"", {"linux311": true, "win38": true, "mac313rc": false, "pypy39": true}],
  ["python_full_version >= \"3.13.0rc1\"", "python_full_version >= \"3.13.0rc1\"", {"linux311": false, "win38": false, "mac313rc": true, "pypy39": false}],
  ["python_version == \"3.*\"", "python_version == \"3.*\"", {"linux311": true, "win38": true, "mac313rc": true, "pypy39": true}],
  ["python_version != \"3.11.*\"", "python_version != \"3.11.*\"", {"linux311": false, "win38": true, "mac313rc": true, "pypy39": true}],
  ["python_version ~= \"3.9\"", "python_version ~= \"3.9\"", {"linux311": true, "win38": false, "mac313rc": true, "pypy39": true}],
  ["python_full_version ~= \"3.11.0\"", "python_full_version ~= \"3.11.0\"", {"linux311": true, "win38": false, "mac313rc": false, "pypy39": false}],
  ["python_version in '2.7 3.8 3.11'", "python_version in \"2.7 3.8 3.11\"", {"linux311": true, "win38": true, "mac313rc": false, "pypy39": false}],
  ["'linux' not in sys_platform", "\"linux\" not in sys_platform", {"linux311": false, "win38": true, "mac313rc": true, "pypy39": true}],
  ["'win' in sys_platform", "\"win\" in sys_platform", {"linux311": false, "win38": true, "mac313rc": true, "pypy39": true}],
  ["\"3.10\" <= python_version", "\"3.10\" <= python_version", {"linux311": true, "win38": false, "mac313rc": true, "pypy39": false}],
  ["python_version > \"3.9\" and python_version <= \"3.11\"", "python_version > \"3.9\" and python_version <= \"3.11\"", {"linux311": true, "win38": false, "mac313rc": false, "pypy39": false}],
  ["platform_machine == \"x86_64\" or platform_machine == \"AMD64\" or platform_machine == \"aarch64\"", "platform_machine == \"x86_64\" or platform_machine == \"AMD64\" or platform_machine == \"aarch64\"", {"linux311": true, "win38": true, "mac313rc": false, "pypy39": true}],
  ["implementation_name == \"pypy\" and implementation_version >= \"7.3\"", "implementation_name == \"pypy\" and implementation_version >= \"7.3\"", {"linux311": false, "win38": false, "mac313rc": false, "pypy39": true}],
  ["python_version === \"3.11\"", "python_version === \"3.11\"", {"linux311": true, "win38": false, "mac313rc": false, "pypy39": false}],
  ["os.name == 'posix' and platform.machine == 'x86_64'", "os_name == \"posix\" and platform_machine == \"x86_64\"", {"linux311": true, "win38": false, "mac313rc": false, "pypy39": false}],
  ["python_implementation == 'CPython'", "platform_python_implementation == \"CPython\"", {"linux311": true, "win38": true, "mac313rc": true, "pypy39": false}],
  ["platform_system != \"Darwin\" and platform_system != \"Windows\"", "platform_system != \"Darwin\" and platform_system != \"Windows\"", {"linux311": true, "win38": false, "mac313rc": false, "pypy39": true}],
  ["python_version >= \"3\"", "python_version >= \"3\"", {"linux311": true, "win38": true, "mac313rc": true, "pypy39": true}],
  ["python_version > \"3\"", "python_version > \"3\"", {"linux311": true, "win38": true, "mac313rc": true, "pypy39": true}],
  ["(python_version >= \"3.9\")", "python_version >= \"3.9\"", {"linux311": true, "win38": false, "mac313rc": true, "pypy39": true}],
];

// [marker, extras, result, printed]: packaging evaluates once per extra (with extra="" when there are none).
const EXTRAS: [string, string[], boolean, string][] = [
  ["extra == \"test\"", ["test"], true, "extra == \"test\""],
  ["extra == \"test\"", [], false, "extra == \"test\""],
  ["extra == \"Test_Suite\"", ["test-suite"], true, "extra == \"test-suite\""],
  ["extra == \"test.suite\"", ["Test_Suite"], true, "extra == \"test-suite\""],
  ["extra != \"test\"", [], true, "extra != \"test\""],
  ["extra == \"a\" or python_version < \"3\"", ["b"], false, "extra == \"a\" or python_version < \"3\""],
  ["python_version >= \"3\" and extra == \"socks\"", ["socks"], true, "python_version >= \"3\" and extra == \"socks\""],
];

describe('markers agree with packaging', () => {
  it.each(PACKAGING)('%s', (text, printed, results) => {
    const marker = parseMarker(text);
    expect(markerToString(marker)).toBe(printed);
    expect(markerToString(parseMarker(printed))).toBe(printed);
    for (const [env, expected] of Object.entries(results)) {
      expect([env, evaluateMarker(marker, ENVS[env])]).toEqual([env, expected]);
    }
  });

  it.each(EXTRAS)('%s with extras %j', (text, extras, expected, printed) => {
    expect(evaluateMarker(text, ENVS.linux311, extras)).toBe(expected);
    expect(markerToString(parseMarker(text))).toBe(printed);
  });
});

describe('PEP 508 marker rules', () => {
  const env = ENVS.linux311;

  it('parses "and" tighter than "or" and honours parentheses', () => {
    const a = { type: 'compare', left: { type: 'variable', name: 'os_name' }, op: '==', right: { type: 'string', value: 'a' } };
    const b = { ...a, right: { type: 'string', value: 'b' } };
    const c = { ...a, right: { type: 'string', value: 'c' } };
    expect(parseMarker("os_name=='a' and os_name=='b' or os_name=='c'")).toEqual({ type: 'or', items: [{ type: 'and', items: [a, b] }, c] });
    expect(parseMarker("os_name=='a' or os_name=='b' and os_name=='c'")).toEqual({ type: 'or', items: [a, { type: 'and', items: [b, c] }] });
    expect(parseMarker("os_name=='a' and (os_name=='b' or os_name=='c')")).toEqual({ type: 'and', items: [a, { type: 'or', items: [b, c], grouped: true }] });
    expect(parseMarker("((os_name=='a'))")).toEqual(a);
  });

  it('prints parentheses that precedence needs for markers built in code', () => {
    const cmp = (v: string): Marker => ({ type: 'compare', left: { type: 'variable', name: 'sys_platform' }, op: '!=', right: { type: 'string', value: v } });
    const m: Marker = { type: 'and', items: [cmp('win32'), { type: 'or', items: [cmp('a'), { type: 'and', items: [cmp('b'), cmp('c')] }] }] };
    expect(markerToString(m)).toBe('sys_platform != "win32" and (sys_platform != "a" or sys_platform != "b" and sys_platform != "c")');
    expect(markerToString({ type: 'compare', left: { type: 'string', value: 'say "hi"' }, op: 'in', right: { type: 'variable', name: 'platform_version' } })).toBe(
      `'say "hi"' in platform_version`,
    );
  });

  it('falls back to string comparison when a side is not a PEP 440 version', () => {
    // PEP 508: "If there is no defined PEP 440 behaviour and the operator exists in Python, then the operator falls back to the Python behaviour."
    expect(evaluateMarker('sys_platform < "m"', env)).toBe(true);
    expect(evaluateMarker('sys_platform > "m"', env)).toBe(false);
    expect(evaluateMarker('platform_release >= "6.1.0-1"', env)).toBe(true);
    expect(evaluateMarker('platform_release >= "6.2"', env)).toBe(false);
  });

  it('uses PEP 440 rules when both sides are versions', () => {
    expect(evaluateMarker('python_version > "3.9"', env)).toBe(true); // as strings "3.11" < "3.9"
    expect(evaluateMarker('python_full_version < "3.11.10"', env)).toBe(true);
    expect(evaluateMarker('python_full_version == "3.11"', env)).toBe(false);
    expect(evaluateMarker('python_full_version == "3.11.*"', env)).toBe(true);
    expect(evaluateMarker('python_full_version >= "3.13"', ENVS.mac313rc)).toBe(false);
    expect(evaluateMarker('python_full_version >= "3.13.0a1"', ENVS.mac313rc)).toBe(true);
  });

  it("supports '===' as arbitrary (case-insensitive) equality", () => {
    expect(evaluateMarker('platform_python_implementation === "cpython"', env)).toBe(true);
    expect(evaluateMarker('python_version === "3.11.0"', env)).toBe(false);
  });

  it("raises for '~=' between non-versions", () => {
    expect(() => evaluateMarker('os_name ~= "posix"', env)).toThrow(MarkerEvaluationError);
  });

  it("raises a marker error for '~=' with a one-part version, as packaging does", () => {
    expect(() => evaluateMarker('python_version ~= "3"', env)).toThrow(MarkerEvaluationError);
    expect(evaluateMarker('python_version ~= "3.0"', env)).toBe(true);
  });

  it('evaluates extras as a set: each comparison sees every requested extra', () => {
    expect(evaluateMarker('extra == "a" and extra == "b"', env, ['A', 'b'])).toBe(true);
    expect(evaluateMarker('extra == "a"', env, ['b', 'c'])).toBe(false);
    expect(evaluateMarker('"Socks" == extra', env, ['socks'])).toBe(true);
    expect(evaluateMarker('extra != "a"', env, ['a'])).toBe(false);
    expect(evaluateMarker('extra == "a"', env)).toBe(false);
  });

  const BAD: [string, number, RegExp][] = [
    ['', 0, /empty marker/],
    ['os_name', 7, /comparison operator/],
    ['os_name ==', 10, /variable or quoted string/],
    ['os_name == "a', 11, /unterminated string/],
    ['os_name == "a" and', 18, /variable or quoted string/],
    ['(os_name == "a"', 15, /unclosed '\('/],
    ['os_name == "a")', 14, /unmatched '\)'/],
    ['os_name == "a" xor os_name == "b"', 15, /expected 'and', 'or'/],
    ['foo == "a"', 0, /variable or quoted string/],
    ['os_name not "a"', 8, /'not in'/],
    ['os_name notin "a"', 8, /comparison operator/],
    ['python_version => "3"', 15, /comparison operator/],
    ['os_namex == "a"', 0, /variable or quoted string/],
  ];
  it.each(BAD)('rejects %j at position %d', (text, position, reason) => {
    let error: unknown;
    try {
      parseMarker(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MarkerSyntaxError);
    expect(error).toBeInstanceOf(UserError);
    expect((error as MarkerSyntaxError).position).toBe(position);
    expect((error as MarkerSyntaxError).reason).toMatch(reason);
    expect((error as Error).name).toBe('MarkerSyntaxError');
  });
});
