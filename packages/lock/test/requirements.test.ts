import { lockClosure, LockError, parseUvLock, requirementsClosure } from '@nx-pex/lock';
import { parseRequirement } from '@nx-pex/pep';
import { fixtureText, linuxTarget } from './helpers';

const ws = parseUvLock(fixtureText('workspace', 'uv.lock'), 'workspace/uv.lock');
const reqs = (...r: string[]) => r.map(parseRequirement);
const names = (c: ReturnType<typeof requirementsClosure>) => c.packages.map((e) => `${e.pkg.name}==${e.pkg.version}`);

describe('requirementsClosure', () => {
  it('takes a third-party package and its locked dependencies for the target', () => {
    expect(names(requirementsClosure(ws, reqs('anyio'), linuxTarget('cp310')))).toEqual([
      'anyio==4.16.0',
      'exceptiongroup==1.3.1',
      'idna==3.20',
      'typing-extensions==4.16.0',
    ]);
    // exceptiongroup's edge holds only before 3.11.
    expect(names(requirementsClosure(ws, reqs('anyio>=4'), linuxTarget('cp311')))).toEqual([
      'anyio==4.16.0',
      'idna==3.20',
      'typing-extensions==4.16.0',
    ]);
  });

  it('a workspace project selects what lockClosure gives for it', () => {
    const byReq = requirementsClosure(ws, reqs('svc-a'), linuxTarget('cp311'));
    const byProject = lockClosure(ws, 'svc-a', linuxTarget('cp311'));
    expect(byReq.packages.map((e) => e.pkg)).toEqual(byProject.packages.map((e) => e.pkg));
    expect(byReq.firstParty.map((p) => p.name)).toEqual(['lib-core', 'svc-a']);
    expect(byReq.root.wheels).toEqual([]);
  });

  it('picks the fork of a package locked several times that fits the target', () => {
    expect(names(requirementsClosure(ws, reqs('numpy'), linuxTarget('cp310')))).toEqual(['numpy==2.2.6']);
    expect(names(requirementsClosure(ws, reqs('numpy'), linuxTarget('cp312')))).toEqual(['numpy==2.5.5']);
    expect(names(requirementsClosure(ws, reqs('numpy==2.4.6'), linuxTarget('cp311')))).toEqual(['numpy==2.4.6']);
  });

  it('drops a requirement whose marker is false for the target', () => {
    expect(names(requirementsClosure(ws, reqs('idna', "anyio; python_version < '3'"), linuxTarget('cp311')))).toEqual(['idna==3.20']);
  });

  it('refuses a name the lock does not have, and a version it does not lock', () => {
    expect(() => requirementsClosure(ws, reqs('requests'), linuxTarget())).toThrow(/has no package requests, which the requirement "requests"/);
    expect(() => requirementsClosure(ws, reqs('idna<3'), linuxTarget())).toThrow(LockError);
    expect(() => requirementsClosure(ws, reqs('idna<3'), linuxTarget())).toThrow(/locks idna at 3\.20, which does not satisfy the requirement "idna<3"/);
  });
});
