import { formatRequirement, markerToString, parseRequirement, RequirementSyntaxError, UserError } from '@nx-pex/pep';

// [input, str(Requirement(input)), sorted extras, str(specifier), url, str(marker)]
// captured from packaging 26.3. Inputs: PEP 508's test grammar and examples, and
// strings found in real METADATA files and uv.lock files.
const PACKAGING: [string, string, string[], string, string | undefined, string | undefined][] = [
  ["A", "A", [], "", undefined, undefined],
  ["A.B-C_D", "A.B-C_D", [], "", undefined, undefined],
  ["aa", "aa", [], "", undefined, undefined],
  ["name", "name", [], "", undefined, undefined],
  ["name<=1", "name<=1", [], "<=1", undefined, undefined],
  ["name>=3", "name>=3", [], ">=3", undefined, undefined],
  ["name>=3,<2", "name<2,>=3", [], "<2,>=3", undefined, undefined],
  ["name@http://foo.com", "name @ http://foo.com", [], "", "http://foo.com", undefined],
  ["name [fred,bar] @ http://foo.com ; python_version=='2.7'", "name[bar,fred] @ http://foo.com ; python_version == \"2.7\"", ["bar", "fred"], "", "http://foo.com", "python_version == \"2.7\""],
  ["name[quux, strange];python_version<'2.7' and platform_version=='2'", "name[quux,strange]; python_version < \"2.7\" and platform_version == \"2\"", ["quux", "strange"], "", undefined, "python_version < \"2.7\" and platform_version == \"2\""],
  ["name; os_name=='a' or os_name=='b'", "name; os_name == \"a\" or os_name == \"b\"", [], "", undefined, "os_name == \"a\" or os_name == \"b\""],
  ["name; os_name=='a' and os_name=='b' or os_name=='c'", "name; os_name == \"a\" and os_name == \"b\" or os_name == \"c\"", [], "", undefined, "os_name == \"a\" and os_name == \"b\" or os_name == \"c\""],
  ["name; os_name=='a' and (os_name=='b' or os_name=='c')", "name; os_name == \"a\" and (os_name == \"b\" or os_name == \"c\")", [], "", undefined, "os_name == \"a\" and (os_name == \"b\" or os_name == \"c\")"],
  ["name; os_name=='a' or os_name=='b' and os_name=='c'", "name; os_name == \"a\" or os_name == \"b\" and os_name == \"c\"", [], "", undefined, "os_name == \"a\" or os_name == \"b\" and os_name == \"c\""],
  ["name; (os_name=='a' or os_name=='b') and os_name=='c'", "name; (os_name == \"a\" or os_name == \"b\") and os_name == \"c\"", [], "", undefined, "(os_name == \"a\" or os_name == \"b\") and os_name == \"c\""],
  ["requests [security,tests] >= 2.8.1, == 2.8.* ; python_version < \"2.7\"", "requests[security,tests]==2.8.*,>=2.8.1; python_version < \"2.7\"", ["security", "tests"], "==2.8.*,>=2.8.1", undefined, "python_version < \"2.7\""],
  ["pip @ https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686", "pip @ https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686", [], "", "https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686", undefined],
  ["Requests >= 2.0 ; python_version>\"3\"", "Requests>=2.0; python_version > \"3\"", [], ">=2.0", undefined, "python_version > \"3\""],
  ["pywin32>=1.0; sys_platform == \"win32\"", "pywin32>=1.0; sys_platform == \"win32\"", [], ">=1.0", undefined, "sys_platform == \"win32\""],
  ["typing-extensions>=4.6; python_version < \"3.13\"", "typing-extensions>=4.6; python_version < \"3.13\"", [], ">=4.6", undefined, "python_version < \"3.13\""],
  ["colorama; platform_system == \"Windows\"", "colorama; platform_system == \"Windows\"", [], "", undefined, "platform_system == \"Windows\""],
  ["uvloop>=0.15.1; sys_platform != \"win32\" and (sys_platform != \"cygwin\" and platform_python_implementation != \"PyPy\")", "uvloop>=0.15.1; sys_platform != \"win32\" and (sys_platform != \"cygwin\" and platform_python_implementation != \"PyPy\")", [], ">=0.15.1", undefined, "sys_platform != \"win32\" and (sys_platform != \"cygwin\" and platform_python_implementation != \"PyPy\")"],
  ["foo[b,a] >=1, <2", "foo[a,b]<2,>=1", ["a", "b"], "<2,>=1", undefined, undefined],
  ["foo (>=1.0,<2)", "foo<2,>=1.0", [], "<2,>=1.0", undefined, undefined],
  ["foo==1.0.*", "foo==1.0.*", [], "==1.0.*", undefined, undefined],
  ["Django>=3.2,!=4.0.0,<5; extra == 'Dev_Tools'", "Django!=4.0.0,<5,>=3.2; extra == \"dev-tools\"", [], "!=4.0.0,<5,>=3.2", undefined, "extra == \"dev-tools\""],
  ["importlib-metadata>=1.4; python_version < '3.8'", "importlib-metadata>=1.4; python_version < \"3.8\"", [], ">=1.4", undefined, "python_version < \"3.8\""],
  ["pytest (>=6) ; extra == 'testing'", "pytest>=6; extra == \"testing\"", [], ">=6", undefined, "extra == \"testing\""],
  ["cffi>=1.12; platform_python_implementation != 'PyPy'", "cffi>=1.12; platform_python_implementation != \"PyPy\"", [], ">=1.12", undefined, "platform_python_implementation != \"PyPy\""],
  ["exceptiongroup>=1.0.0rc8; python_version < \"3.11\"", "exceptiongroup>=1.0.0rc8; python_version < \"3.11\"", [], ">=1.0.0rc8", undefined, "python_version < \"3.11\""],
  ["greenlet!=0.4.17; python_version < \"3.13\" and (platform_machine == \"aarch64\" or (platform_machine == \"ppc64le\" or (platform_machine == \"x86_64\" or (platform_machine == \"amd64\" or (platform_machine == \"AMD64\" or (platform_machine == \"win32\" or platform_machine == \"WIN32\"))))))", "greenlet!=0.4.17; python_version < \"3.13\" and (platform_machine == \"aarch64\" or (platform_machine == \"ppc64le\" or (platform_machine == \"x86_64\" or (platform_machine == \"amd64\" or (platform_machine == \"AMD64\" or (platform_machine == \"win32\" or platform_machine == \"WIN32\"))))))", [], "!=0.4.17", undefined, "python_version < \"3.13\" and (platform_machine == \"aarch64\" or (platform_machine == \"ppc64le\" or (platform_machine == \"x86_64\" or (platform_machine == \"amd64\" or (platform_machine == \"AMD64\" or (platform_machine == \"win32\" or platform_machine == \"WIN32\"))))))"],
  ["tomli>=1.1.0; python_full_version <= '3.11.0a6'", "tomli>=1.1.0; python_full_version <= \"3.11.0a6\"", [], ">=1.1.0", undefined, "python_full_version <= \"3.11.0a6\""],
  ["six ; python_version in '2.7 3.4'", "six; python_version in \"2.7 3.4\"", [], "", undefined, "python_version in \"2.7 3.4\""],
  ["bar ; 'linux' not in sys_platform", "bar; \"linux\" not in sys_platform", [], "", undefined, "\"linux\" not in sys_platform"],
  ["x[a,a,b]>=1,>=1", "x[a,b]>=1", ["a", "b"], ">=1", undefined, undefined],
  ["x===foobar", "x===foobar", [], "===foobar", undefined, undefined],
  ["x~=1.4.2", "x~=1.4.2", [], "~=1.4.2", undefined, undefined],
  ["mylib @ file:///tmp/mylib-1.0-py3-none-any.whl ; os.name == 'posix'", "mylib @ file:///tmp/mylib-1.0-py3-none-any.whl ; os_name == \"posix\"", [], "", "file:///tmp/mylib-1.0-py3-none-any.whl", "os_name == \"posix\""],];

describe('parseRequirement / formatRequirement agree with packaging', () => {
  it.each(PACKAGING)('%s', (input, printed, extras, specifier, url, marker) => {
    const req = parseRequirement(input);
    expect(formatRequirement(req)).toBe(printed);
    expect([...req.extras].sort()).toEqual(extras);
    expect(req.specifier).toBe(specifier);
    expect(req.url).toBe(url);
    expect(req.marker ? markerToString(req.marker) : undefined).toBe(marker);
  });
});

describe('parseRequirement details', () => {
  it('keeps the name and extras as written', () => {
    const req = parseRequirement('Foo_Bar[Socks, security, socks] (>=1.0, <2)');
    expect(req.name).toBe('Foo_Bar');
    expect(req.extras).toEqual(['Socks', 'security', 'socks']);
    expect(req.specifier).toBe('<2,>=1.0');
  });

  it('keeps a ";" glued to a URL in the URL, as PEP 508 requires a space first', () => {
    expect(parseRequirement("name @ http://x.com;os_name=='a'")).toEqual({ name: 'name', extras: [], specifier: '', url: "http://x.com;os_name=='a'" });
  });

  it('parses a PEP 508 url requirement with extras and a marker', () => {
    const req = parseRequirement("name [fred,bar] @ http://foo.com ; python_version=='2.7'");
    expect(req.url).toBe('http://foo.com');
    expect(req.extras).toEqual(['fred', 'bar']);
    expect(req.marker).toEqual({ type: 'compare', left: { type: 'variable', name: 'python_version' }, op: '==', right: { type: 'string', value: '2.7' } });
  });

  const BAD: [string, number][] = [
    ['', 0],
    ['name @', 6],
    ['name[', 5],
    ['name[a', 6],
    ['name>=', 4],
    ['name >= 1.0 extra', 12],
    ['name; os_name', 13],
    ["name; os_name == 'a' and", 24],
    ["name; (os_name == 'a'", 21],
    ['-name', 0],
    ['name==1.0.*.dev1', 4],
    ['name>=1.0.*', 4],
    ['name~=1', 4],
    ["name; foo == 'a'", 6],
    ["name; os_name =! 'a'", 14],
    ["name; os_name == 'a')", 20],
    ['name[a b]', 7],
    ['name (>=1.0', 11],
    ['name @ foo.whl', 7],
  ];
  it.each(BAD)('rejects %j with the position of the problem', (input, position) => {
    let error: unknown;
    try {
      parseRequirement(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RequirementSyntaxError);
    expect(error).toBeInstanceOf(UserError);
    expect((error as RequirementSyntaxError).position).toBe(position);
    expect((error as Error).message).toContain(`Invalid requirement '${input}'`);
    expect((error as Error).name).toBe('RequirementSyntaxError');
  });
});
