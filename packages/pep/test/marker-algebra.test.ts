import {
  andDnf,
  bindExtras,
  negateDnf,
  dnfIsFalse,
  dnfIsTrue,
  evaluateMarker,
  formatDnf,
  lowestPython,
  markerDnf,
  MARKER_TRUE,
  orDnf,
  parseMarker,
  requiresPythonRange,
  markerPythonRange,
  pythonRangeMarker,
  type MarkerDnf,
  type MarkerEnvironment,
  type PythonRange,
} from '@nx-pex/pep';

// Environments enough to tell every marker below apart: Python releases around the bounds used, on
// three operating systems and two machines.
const PYTHONS = ['2.7.18', '3.6.0', '3.7.0', '3.7.5', '3.8.0', '3.8.1', '3.8.2', '3.9.0', '3.10.0', '3.10.3', '3.11.0', '3.11.7', '3.12.0', '3.13.1', '3.14.0', '4.0.0'];
const OSES = [
  { os_name: 'posix', sys_platform: 'linux', platform_system: 'Linux' },
  { os_name: 'nt', sys_platform: 'win32', platform_system: 'Windows' },
  { os_name: 'posix', sys_platform: 'darwin', platform_system: 'Darwin' },
];
const ENVS: MarkerEnvironment[] = PYTHONS.flatMap((v) =>
  OSES.flatMap((os) =>
    ['x86_64', 'aarch64'].map((machine) => ({
      implementation_name: 'cpython',
      implementation_version: v,
      platform_machine: machine,
      platform_release: '',
      platform_version: '',
      python_full_version: v,
      platform_python_implementation: 'CPython',
      python_version: v.split('.').slice(0, 2).join('.'),
      ...os,
    })),
  ),
);

/** The marker's truth in each of ENVS, through its text (false: never true). */
function truth(dnf: MarkerDnf, domain?: PythonRange): boolean[] {
  let text: string | undefined;
  try {
    text = formatDnf(dnf, domain);
  } catch {
    return ENVS.map(() => false);
  }
  const m = text === undefined ? undefined : parseMarker(text);
  return ENVS.map((env) => m === undefined || evaluateMarker(m, env));
}

const truths = new Map<string, boolean[]>();
const truthOf = (m: string) => truths.get(m) ?? truths.set(m, ENVS.map((env) => evaluateMarker(m, env))).get(m)!;

function sameTruth(original: (env: MarkerEnvironment, i: number) => boolean, dnf: MarkerDnf): void {
  const got = truth(dnf);
  ENVS.forEach((env, i) => {
    const want = original(env, i);
    if (got[i] !== want) throw new Error(`${formatDnf(dnf) ?? 'true'} differs on ${env.python_full_version} ${env.sys_platform}: want ${want}`);
  });
}

// The markers of PEP 508's examples and test suite, and the forms lock tools write.
const MARKERS = [
  'python_version < "2.7"',
  "os_name=='a' or os_name=='b'",
  "os_name=='a' and os_name=='b' or os_name=='c'",
  "os_name=='a' and (os_name=='b' or os_name=='c')",
  "os_name=='a' or os_name=='b' and os_name=='c'",
  "(os_name=='a' or os_name=='b') and os_name=='c'",
  'python_version >= "3.8" and python_version < "3.11"',
  'python_full_version >= "3.8.1"',
  'python_full_version > "3.8.1" and python_full_version <= "3.10.3"',
  'python_version > "3.8"',
  'python_version <= "3.8"',
  'python_version == "3.10"',
  'python_version != "3.10"',
  'python_full_version == "3.11.*"',
  'python_full_version != "3.11.*"',
  'python_version ~= "3.8"',
  'python_full_version ~= "3.8.1"',
  '"3.9" <= python_version',
  'sys_platform == "win32" and python_version < "3.9"',
  'sys_platform != "win32" or python_version >= "3.12"',
  'platform_machine == "x86_64" and sys_platform == "linux"',
  "implementation_name == 'cpython' and os_name == 'nt'",
  "'linux' in sys_platform",
  "sys_platform not in 'win32 cygwin'",
];

describe('marker algebra', () => {
  it.each(MARKERS)('%s keeps its meaning through normal form and back', (m) => {
    sameTruth((env) => evaluateMarker(m, env), markerDnf(m));
  });

  it.each(MARKERS)('not (%s) holds exactly where it does not', (m) => {
    const neg = negateDnf(markerDnf(m));
    expect(neg).toBeDefined();
    sameTruth((_, i) => !truthOf(m)[i]!, neg!);
  });

  it('and/or of every pair keeps its meaning', () => {
    for (const a of MARKERS) {
      for (const b of MARKERS) {
        sameTruth((_, i) => truthOf(a)[i]! && truthOf(b)[i]!, andDnf(markerDnf(a), markerDnf(b)));
        sameTruth((_, i) => truthOf(a)[i]! || truthOf(b)[i]!, orDnf(markerDnf(a), markerDnf(b)));
      }
    }
  });

  it('drops duplicates and implied terms, merges Python ranges', () => {
    const d = (s: string) => markerDnf(s);
    expect(formatDnf(orDnf(d('sys_platform == "win32"'), d('sys_platform == "win32"')))).toBe('sys_platform == "win32"');
    expect(formatDnf(orDnf(d('sys_platform == "win32"'), d('sys_platform == "win32" and python_version < "3.9"')))).toBe('sys_platform == "win32"');
    expect(formatDnf(orDnf(d('python_version < "3.9"'), d('python_version >= "3.9" and python_version < "3.11"')))).toBe('python_version < "3.11"');
    expect(formatDnf(andDnf(d('python_version >= "3.8"'), d('python_full_version < "3.10"')))).toBe('python_version >= "3.8" and python_version < "3.10"');
    expect(formatDnf(orDnf(d('python_version == "3.10"'), d('python_version == "3.11"')))).toBe('python_version >= "3.10" and python_version < "3.12"');
    expect(formatDnf(orDnf(d('sys_platform == "win32"'), d('sys_platform != "win32"')))).toBeUndefined();
    expect(formatDnf(andDnf(d('python_full_version >= "3.8.1"'), d('python_version < "3.9"')))).toBe('python_full_version >= "3.8.1" and python_version < "3.9"');
  });

  it('decides contradictions', () => {
    expect(dnfIsFalse(markerDnf('sys_platform == "linux" and sys_platform == "win32"'))).toBe(true);
    expect(dnfIsFalse(markerDnf('sys_platform == "linux" and sys_platform != "linux"'))).toBe(true);
    expect(dnfIsFalse(markerDnf('python_version < "3.10" and python_version >= "3.10"'))).toBe(true);
    expect(formatDnf(markerDnf('sys_platform == "linux" and sys_platform != "win32"'))).toBe('sys_platform == "linux"');
    expect(dnfIsFalse(markerDnf('sys_platform == "linux" and python_version < "3.9"'))).toBe(false);
  });

  it('decides extras for the package installed with them', () => {
    const m = markerDnf('extra == "socks" and sys_platform == "win32" or extra == "http2"');
    expect(formatDnf(bindExtras(m, ['socks']))).toBe('sys_platform == "win32"');
    expect(formatDnf(bindExtras(m, ['http2']))).toBeUndefined();
    expect(bindExtras(m, [])).toEqual([]);
    expect(formatDnf(bindExtras(markerDnf('extra != "x" and os_name == "nt"'), []))).toBe('os_name == "nt"');
  });

  it('works relative to requires-python', () => {
    const domain = requiresPythonRange('>=3.10');
    expect(dnfIsFalse(markerDnf('python_version < "3.10"'), domain)).toBe(true);
    expect(dnfIsTrue(markerDnf('python_version >= "3.9"'), domain)).toBe(true);
    expect(formatDnf(markerDnf('python_version >= "3.9" and python_version < "3.12"'), domain)).toBe('python_version < "3.12"');
    expect(formatDnf(MARKER_TRUE, domain)).toBeUndefined();
    expect(lowestPython(domain)).toBe('3.10');
    expect(lowestPython(requiresPythonRange('>=3.8.1,<4'))).toBe('3.8.1');
    expect(lowestPython(requiresPythonRange('~=3.9'))).toBe('3.9');
    expect(lowestPython(requiresPythonRange(undefined))).toBeUndefined();
    expect(dnfIsFalse(markerDnf('python_version >= "4"'), requiresPythonRange('>=3.9,<4'))).toBe(true);
  });
});

describe('one Python-range algebra, two ways of writing it', () => {
  it('reads the Python versions a marker holds for, when it speaks of nothing else', () => {
    const r = markerPythonRange("python_full_version >= '3.9' and python_version < '3.12'")!;
    expect(pythonRangeMarker(r)).toBe('python_version >= "3.9" and python_version < "3.12"');
    expect(markerPythonRange("python_version < '3.12' and sys_platform == 'linux'")).toBeUndefined();
  });

  it('writes a range as packaging does, or as uv writes lock markers', () => {
    const domain = requiresPythonRange('>=3.9');
    expect(pythonRangeMarker(requiresPythonRange('<3.11'), domain, 'uv')).toBe("python_full_version < '3.11'");
    expect(pythonRangeMarker(requiresPythonRange('==3.10.*'), domain, 'uv')).toBe("python_full_version == '3.10.*'");
    expect(pythonRangeMarker(requiresPythonRange('==3.10.*'), domain)).toBe('python_version == "3.10"');
    expect(pythonRangeMarker(requiresPythonRange('>=3.10.2'), domain, 'uv')).toBe("python_full_version >= '3.10.2'");
    expect(pythonRangeMarker(requiresPythonRange('>=3.10.2'), domain)).toBe('python_full_version >= "3.10.2"');
    expect(pythonRangeMarker(domain, domain, 'uv')).toBeUndefined();
  });
});
