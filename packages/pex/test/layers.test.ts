/**
 * The dependencies layer's key (exactly what goes into the layer), Docker image references as
 * Docker parses them, and the Dockerfile after pex's container recipe.
 */
import { depsLayerKey, depsLayerOptions, dockerfile, dockerignore, isImageReference, PexError, type PexOptions, type PexRuntime } from '@nx-pex/pex';

const runtime = { version: '2.105.2', wheelSha256: 'a'.repeat(64), wheelFilename: 'pex-2.105.2-py3-none-any.whl' } as unknown as PexRuntime;
const wheel = (name: string, sha: string) => ({ filename: `${name}-1.0-py3-none-any.whl`, sha256: sha.repeat(64), path: `/store/${name}` });
const app: PexOptions = {
  runtime,
  dependencies: [wheel('a', '1'), wheel('b', '2')],
  sources: [{ path: 'app/main.py', absPath: '/src/app/main.py' }],
  requirements: ['a==1.0', 'b==1.0'],
  entryPoint: 'app.main:main',
  shebang: '#!/usr/bin/env python3.11',
  includeTools: true,
  injectArgs: ['--flag'],
};
const key = (o: PexOptions, target = 'cp311-cp311-manylinux_2_36_x86_64') => depsLayerKey(depsLayerOptions(o), target);

describe('depsLayerKey', () => {
  it('ignores sources, the entry point, run-time options of the sources layer and where wheels lie', () => {
    const k = key(app);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(key({ ...app, sources: [], entryPoint: 'other:main', injectArgs: [], inheritPath: 'prefer', venv: false })).toBe(k);
    expect(key({ ...app, dependencies: app.dependencies.map((d) => ({ ...d, path: `/elsewhere/${d.filename}`, trusted: true })) })).toBe(k);
    expect(key({ ...app, dependencies: app.dependencies.map((d) => ({ ...d, sha256: d.sha256.toUpperCase() })) })).toBe(k);
  });

  it('changes with every input of the layer', () => {
    const k = key(app);
    const variants: PexOptions[] = [
      { ...app, dependencies: [wheel('a', '1'), wheel('b', '3')] },
      { ...app, dependencies: [wheel('a', '1')] },
      { ...app, requirements: ['a==1.0'] },
      { ...app, shebang: '#!/usr/bin/env python3.12' },
      { ...app, layout: 'packed' },
      { ...app, preInstallWheels: true },
      { ...app, compress: false },
      { ...app, includeTools: false },
      { ...app, runtimePexRoot: '/tmp/pex' },
      { ...app, maxInstallJobs: 4 },
      { ...app, interpreterConstraints: ['CPython>=3.11'] },
      { ...app, runtime: { ...runtime, wheelSha256: 'b'.repeat(64) } as PexRuntime },
    ];
    const keys = new Set([k, ...variants.map((v) => key(v))]);
    expect(keys.size).toBe(variants.length + 1);
    expect(key(app, 'cp312-cp312-manylinux_2_36_x86_64')).not.toBe(k);
  });

  it('refuses options that still carry sources or an entry point', () => {
    expect(() => depsLayerKey(app, 'x')).toThrow(PexError);
  });
});

describe('isImageReference', () => {
  it.each([
    'python:3.11-slim',
    'python',
    'library/python:3.11',
    'docker.io/library/python:3.11-slim-bookworm',
    'registry.example.com:5000/team/python:3.11',
    'localhost/python',
    'localhost:5000/a/b/c:latest',
    'ghcr.io/Org-Name/thing'.toLowerCase(),
    'python@sha256:' + '0'.repeat(64),
    'python:3.11@sha256:' + 'f'.repeat(64),
    'my_team/py__thing-x.y:TAG_1.0',
    'REGISTRY.example.com/x',
    '[::1]:5000/x',
  ])('accepts %s', (ref) => expect(isImageReference(ref)).toBe(true));

  it.each([
    '',
    'Python:3.11',
    'UPPER/case',
    'python:3.11 slim',
    'python:',
    ':3.11',
    'python@sha256:abc',
    '${BASE}',
    '-python',
    'python:.bad',
    'a//b',
    'python:3.11\nRUN rm -rf /',
    `python:${'x'.repeat(129)}`,
    `${'a'.repeat(256)}`,
  ])('refuses %j', (ref) => expect(isImageReference(ref)).toBe(false));
});

describe('dockerfile', () => {
  it('builds the deps venv before the sources of each application, the first one last (the default image)', () => {
    const text = dockerfile({
      baseImage: 'python:3.12-slim',
      pythonVersion: '3.12',
      depsLayer: 'deps.pex',
      apps: [
        { name: 'Web.Server', srcsLayer: 'Web.Server.pex' },
        { name: 'worker', srcsLayer: 'worker.pex' },
      ],
      header: 'first line\nsecond line',
    });
    const code = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(code).toEqual([
      'FROM python:3.12-slim AS deps',
      'ENV PEX_TOOLS=1 PEX_ROOT=/tmp/pex-root',
      'COPY ["deps.pex", "/nx-pex/deps.pex"]',
      'RUN ["python3.12", "/nx-pex/deps.pex", "venv", "--scope=deps", "--compile", "/app"]',
      'FROM python:3.12-slim AS srcs-web.server',
      'ENV PEX_TOOLS=1 PEX_ROOT=/tmp/pex-root',
      'COPY ["Web.Server.pex", "/nx-pex/srcs.pex"]',
      'RUN ["python3.12", "/nx-pex/srcs.pex", "venv", "--scope=srcs", "--compile", "/app"]',
      'FROM python:3.12-slim AS srcs-worker',
      'ENV PEX_TOOLS=1 PEX_ROOT=/tmp/pex-root',
      'COPY ["worker.pex", "/nx-pex/srcs.pex"]',
      'RUN ["python3.12", "/nx-pex/srcs.pex", "venv", "--scope=srcs", "--compile", "/app"]',
      'FROM python:3.12-slim AS worker',
      'COPY --from=deps ["/app", "/app"]',
      'COPY --from=srcs-worker ["/app", "/app"]',
      'ENTRYPOINT ["/app/pex"]',
      'FROM python:3.12-slim AS web.server',
      'COPY --from=deps ["/app", "/app"]',
      'COPY --from=srcs-web.server ["/app", "/app"]',
      'ENTRYPOINT ["/app/pex"]',
    ]);
    expect(text.startsWith('# first line\n# second line\n')).toBe(true);
  });

  it('refuses a bad base image, version or an empty application list', () => {
    const o = { baseImage: 'python:3.11-slim', pythonVersion: '3.11', depsLayer: 'deps.pex', apps: [{ name: 'a', srcsLayer: 'a.pex' }] };
    expect(() => dockerfile({ ...o, baseImage: 'python:3.11\nRUN x' })).toThrow(PexError);
    expect(() => dockerfile({ ...o, pythonVersion: '3' })).toThrow(PexError);
    expect(() => dockerfile({ ...o, apps: [] })).toThrow(PexError);
  });

  it('names layers only in JSON form, as patterns matching just themselves: no shell, no variables, no globbing', () => {
    const name = 'my app$(touch${IFS}PWNED);semi"quote[1]*?';
    const text = dockerfile({ baseImage: 'python:3.11-slim', pythonVersion: '3.11', depsLayer: 'deps.pex', apps: [{ name: `${name}\nRUN evil`, srcsLayer: `${name}.pex` }] });
    const code = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(code).toContain(`COPY ["my app[$](touch[$]{IFS}PWNED);semi\\"quote[[]1][*][?].pex", "/nx-pex/srcs.pex"]`);
    expect(code).toContain('RUN ["python3.11", "/nx-pex/srcs.pex", "venv", "--scope=srcs", "--compile", "/app"]');
    // Every instruction is FROM or in JSON form; the name shows up only in comments, on one line.
    for (const l of code) expect(l).toMatch(/^(FROM \S+ AS \S+|ENV PEX_TOOLS=1 PEX_ROOT=\/tmp\/pex-root|(COPY|RUN|ENTRYPOINT|COPY --from=\S+) \[.*\])$/);
    expect(text).not.toMatch(/^RUN evil/m);
    expect(dockerignore([' lead$(x)*[1]?;a-b_c.pex'])).toBe('# Only what the Dockerfile copies.\n*\n!Dockerfile\n!\\ lead\\$\\(x\\)\\*\\[1\\]\\?\\;a-b_c.pex\n');
  });

  it('ignores everything but the Dockerfile and the layers', () => {
    expect(dockerignore(['deps.pex', 'a.pex'])).toBe('# Only what the Dockerfile copies.\n*\n!Dockerfile\n!deps.pex\n!a.pex\n');
  });
});
