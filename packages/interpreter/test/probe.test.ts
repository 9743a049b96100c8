import { execFileSync } from 'node:child_process';
import { InterpreterProbeError, probeInterpreter } from '@nx-pex/interpreter';
import { evaluateMarker, targetFromInterpreter, UserError } from '@nx-pex/pep';
import { itWith } from '@nx-pex/testkit';

describe('probeInterpreter', () => {
  itWith(['python3'], 'describes the local python3 as packaging would', async () => {
    const info = await probeInterpreter('python3');
    const expected = JSON.parse(
      execFileSync(
        'python3',
        [
          '-c',
          [
            'import json, sys, sysconfig, platform',
            'env = None',
            'try:',
            '    from pip._vendor.packaging.markers import default_environment',
            '    env = default_environment()',
            'except Exception:',
            '    pass',
            'print(json.dumps({"v": list(sys.version_info[:3]), "plat": sysconfig.get_platform(), "exe": sys.executable, "env": env, "abiflags": sys.abiflags}))',
          ].join('\n'),
        ],
        { encoding: 'utf8' },
      ),
    );
    expect(info.implementation).toBe('cpython');
    expect(info.version).toEqual(expected.v);
    expect(info.platform).toBe(expected.plat);
    expect(info.abiflags).toBe(expected.abiflags);
    expect(info.executable).toBe(expected.exe);
    if (expected.env) expect(info.markerEnvironment).toEqual(expected.env);
    if (info.platform.startsWith('linux')) expect(info.libc?.name).toMatch(/^(glibc|musl)$/);

    const target = targetFromInterpreter(info);
    expect(target.pythonVersion).toBe(info.markerEnvironment.python_full_version);
    expect(target.supportedTags).toContain(`cp${info.version[0]}${info.version[1]}-none-any`);
    expect(target.supportedTags[target.supportedTags.length - 1]).toBe('py30-none-any');
    expect(evaluateMarker(`python_version == "${info.version[0]}.${info.version[1]}"`, target.markerEnvironment)).toBe(true);
  });

  itWith(['python3', 'pip'], 'matches the tags of the packaging that pip vendors (as a set)', async () => {
    const info = await probeInterpreter('python3');
    const reference: string[] = JSON.parse(
      execFileSync('python3', ['-c', 'import json; from pip._vendor.packaging import tags; print(json.dumps([str(t) for t in tags.sys_tags()]))'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    const ours = new Set(targetFromInterpreter(info).supportedTags);
    // Older packaging lacks cpXY-none-any and orders linux_* last; every tag it lists must be ours.
    expect(reference.filter((t) => !ours.has(t))).toEqual([]);
  });

  it('reports a missing interpreter as a user error', async () => {
    const err = await probeInterpreter('/nonexistent/python3.99').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterpreterProbeError);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain("'/nonexistent/python3.99' was not found");
  });

  it('reports an interpreter that fails', async () => {
    const err = await probeInterpreter('false').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterpreterProbeError);
  });
});
