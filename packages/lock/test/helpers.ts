import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InterpreterInfo, TargetPlatform, targetFromInterpreter } from '@nx-pex/pep';

export const FIXTURES = join(__dirname, 'fixtures');

/** Interpreters recorded from real CPython builds on glibc 2.36 x86_64. */
const interpreters = JSON.parse(readFileSync(join(FIXTURES, 'interpreters.json'), 'utf8')) as Record<string, InterpreterInfo>;

export function linuxTarget(key: 'cp38' | 'cp39' | 'cp310' | 'cp311' | 'cp312' = 'cp311'): TargetPlatform {
  return targetFromInterpreter(interpreters[key]);
}

/** The recorded CPython 3.11 moved to 64-bit Windows. */
export function windowsTarget(): TargetPlatform {
  const base = interpreters.cp311;
  const info: InterpreterInfo = {
    ...base,
    platform: 'win-amd64',
    machine: 'AMD64',
    libc: undefined,
    markerEnvironment: {
      ...base.markerEnvironment,
      os_name: 'nt',
      platform_machine: 'AMD64',
      platform_system: 'Windows',
      platform_release: '10',
      platform_version: '10.0.19045',
      sys_platform: 'win32',
    },
  };
  delete info.libc;
  return targetFromInterpreter(info);
}

export function fixtureText(...parts: string[]): string {
  return readFileSync(join(FIXTURES, ...parts), 'utf8');
}
