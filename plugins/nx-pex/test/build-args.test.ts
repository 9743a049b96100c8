import { cliPexOptions, parseBuildArgs, PEX_FLAGS, UNSUPPORTED_PEX_FLAGS, SPECS } from '@nx-pex/cli';
import { applyIndexOverrides, checkOptions, mergeOptions, pinnedVersion, PEX_BUILD_OPTION_NAMES, requiresDist } from '@nx-pex/engine';
import { NX_PEX_TOOL_KEYS } from '@nx-pex/project';
import { defaultIndexConfig } from '@nx-pex/index';
import { parseRequirement } from '@nx-pex/pep';

describe('parseBuildArgs', () => {
  it("takes pex's spellings: aliases, --flag=value, attached short values, negations", () => {
    const a = parseBuildArgs([
      'req==1', '-rreqs.txt', '--requirement=more.txt', '-m', 'mod:fn', '-o', 'out.pex', '--no-pre-install-wheels', '--not-compressed',
      '--inject-args', "a 'b c'", '--inject-env', 'K=V=W', '--venv', 'prepend', '--inherit-path', '--pex-path', 'a.pex:b.pex', '--no-index', '--', '-weird',
    ]);
    expect(a.requirements).toEqual(['req==1', '-weird']);
    expect(a.requirementFiles).toEqual(['reqs.txt', 'more.txt']);
    expect(a.entryPoint).toBe('mod:fn');
    expect(a.outputFile).toBe('out.pex');
    expect(a.preInstallWheels).toBe(false);
    expect(a.compress).toBe(false);
    expect(a.injectArgs).toEqual(['a', 'b c']);
    expect(a.injectEnv).toEqual({ K: 'V=W' });
    expect(a.venv).toBe(true);
    expect(a.venvBinPath).toBe('prepend');
    expect(a.inheritPath).toBe('prefer'); // bare --inherit-path means prefer, as in pex
    expect(a.pexPath).toEqual(['a.pex', 'b.pex']);
    expect(a.pypi).toBe(false);
  });

  it('--venv without a value does not swallow a requirement', () => {
    const a = parseBuildArgs(['--venv', 'requests==2.0']);
    expect(a.venvBinPath).toBe('false');
    expect(a.requirements).toEqual(['requests==2.0']);
    expect(cliPexOptions(a)).toMatchObject({ venv: true, venvBinPath: 'false' });
  });

  it('every pex flag is either taken or refused as not supported yet', () => {
    const taken = new Set(SPECS.flatMap((s) => [...s.names, ...(s.kind.type === 'bool' ? s.kind.negations : [])]));
    for (const f of PEX_FLAGS) {
      if (f === '-V' || f === '--version') continue;
      expect(taken.has(f) || UNSUPPORTED_PEX_FLAGS.includes(f)).toBe(true);
    }
    for (const f of UNSUPPORTED_PEX_FLAGS) expect(() => parseBuildArgs([f])).toThrow(`pex's ${f} is not supported by nx-pex yet`);
  });

  it('refuses a missing value, a value on a switch and a malformed --inject-env', () => {
    expect(() => parseBuildArgs(['-o'])).toThrow(/-o needs a value/);
    expect(() => parseBuildArgs(['--include-tools=yes'])).toThrow(/takes no value/);
    expect(() => parseBuildArgs(['--inject-env', 'NOVALUE'])).toThrow(/NAME=VALUE/);
    expect(() => cliPexOptions(parseBuildArgs(['--max-install-jobs', 'many']))).toThrow(/integer/);
  });
});

describe('options', () => {
  it('the [tool.nx-pex] keys are the target options in kebab-case', () => {
    const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    expect(Object.keys(NX_PEX_TOOL_KEYS).filter((k) => k !== 'scripts' && k !== 'lock-file').sort()).toEqual(PEX_BUILD_OPTION_NAMES.map(kebab).sort());
  });

  it('the first layer wins; entry point, script and scripts travel together', () => {
    expect(mergeOptions({ compress: false }, { compress: true, layout: 'packed' })).toEqual({ compress: false, layout: 'packed' });
    expect(mergeOptions({ script: 'b' }, { entryPoint: 'a:main', injectArgs: ['x'] })).toEqual({ script: 'b', injectArgs: ['x'] });
    expect(mergeOptions({}, { scripts: ['s'] })).toEqual({ scripts: ['s'] });
  });

  it('conflicts nx-pex refuses', () => {
    expect(() => checkOptions({ entryPoint: 'a', script: 'b' }, 'x')).toThrow(/x: an entry point \(a\) and a script \(b\)/);
    expect(() => checkOptions({ venv: true, includeTools: false }, 'x')).toThrow(/needs the pex tools/);
    expect(() => checkOptions({ venvBinPath: 'prepend' }, 'x')).toThrow(/only to a venv PEX/);
    expect(() => checkOptions({ maxInstallJobs: -2 }, 'x')).toThrow(/-1 or more/);
    expect(() => checkOptions({ pexVersion: 'latest' }, 'x')).toThrow(/not a version/);
    expect(() => checkOptions({ venv: true }, 'x')).not.toThrow();
  });

  it("pex's index flags replace pip's indexes; --find-links adds", () => {
    const pip = { ...defaultIndexConfig(), indexUrl: 'https://mirror/simple', findLinks: ['/wheels'] };
    expect(applyIndexOverrides(pip, undefined)).toBe(pip);
    expect(applyIndexOverrides(pip, { noPypi: true })).toMatchObject({ noIndex: true, extraIndexUrls: [] });
    expect(applyIndexOverrides(pip, { indexUrls: ['https://a/simple'] })).toMatchObject({
      indexUrl: 'https://pypi.org/simple',
      extraIndexUrls: ['https://a/simple'],
      noIndex: false,
    });
    expect(applyIndexOverrides(pip, { noPypi: true, indexUrls: ['https://a/simple'], findLinks: ['/x'] }, '/')).toMatchObject({
      indexUrl: 'https://a/simple',
      findLinks: ['/x', '/wheels'],
    });
  });
});

describe('pinned requirements', () => {
  it('only == and === with a full version are pins', () => {
    expect(pinnedVersion(parseRequirement('a==1.0'))).toBe('1.0');
    expect(pinnedVersion(parseRequirement('a===1.0'))).toBe('1.0');
    expect(pinnedVersion(parseRequirement('a==1.*'))).toBeUndefined();
    expect(pinnedVersion(parseRequirement('a>=1.0'))).toBeUndefined();
    expect(pinnedVersion(parseRequirement('a==1.0,<2'))).toBeUndefined();
  });

  it('reads Requires-Dist from the METADATA headers only (PEP 566 example)', () => {
    const meta = 'Metadata-Version: 2.1\nName: x\nRequires-Dist: pkginfo\nRequires-Dist: PasteDeploy\nRequires-Dist: zope.interface (>3.5.0)\nRequires-Dist: pywin32 >1.0; sys_platform == \'win32\'\n\nRequires-Dist: not-a-header\n';
    expect(requiresDist(meta)).toEqual(['pkginfo', 'PasteDeploy', 'zope.interface (>3.5.0)', "pywin32 >1.0; sys_platform == 'win32'"]);
  });
});
