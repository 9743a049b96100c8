/**
 * End to end, with the real `nx`: the example monorepo extended by the generators to 6 services
 * and 3 libraries. Affected and the cache follow the per-project locks package by package; one
 * broken project never stops the others; an undeclared workspace import fails its build; and
 * Nx's self-hosted remote cache hands every build to a second clone at another path.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IndexServer } from '@nx-pex/index-server';
import { CLONE_SKIP, makeWorkspace as makeWorkspaceAt, NX, nxOutcome, sh as runIn, startWorkspaceIndex } from './workspace-support';

const run = promisify(execFile);
const LOCKS = join(__dirname, 'fixtures', 'affected');
// The examples locked by their own poetry.lock / requirements file take no part in uv.lock's affected story.
const SKIP = [...CLONE_SKIP, 'poetry-service', 'requirements-service'];
const SERVICES = ['service-a', 'service-b', 'svc-c', 'svc-d', 'svc-e', 'svc-f'];

jest.setTimeout(600_000);

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;

const sh = (cwd: string, cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> => runIn(cwd, cmd, args, { ...env, ...extraEnv });

const nx = (root: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => sh(root, NX, args, extraEnv);

async function nxFails(root: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const { ok, log } = await nxOutcome(root, args, { ...env, ...extraEnv });
  if (!ok) return log;
  throw new Error(`nx ${args.join(' ')} succeeded in ${root}, but was expected to fail`);
}

/** `> nx run <project>:build [<cache status>]` lines of a run: project → status ('' when it ran). */
function taskStatus(log: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of log.matchAll(/(?:>|✔|✖)\s+nx run ([\w.-]+):build(?:[ \t]+\[([^\]\n]+)\])?/g)) out[m[1]] = m[2] ?? '';
  return out;
}

const cached = (status: string | undefined) => status === 'local cache' || status === 'remote cache' || status === 'existing outputs match the cache, left as is';

const makeWorkspace = (name: string): Promise<string> => makeWorkspaceAt(join(scratch, name), SKIP);

async function commitAll(root: string, message: string): Promise<void> {
  await sh(root, 'git', ['add', '-A']);
  await sh(root, 'git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', message]);
}

async function affectedBuilds(root: string): Promise<string[]> {
  const out = await nx(root, ['show', 'projects', '--affected', '--base=HEAD', '--withTarget=build', '--json']);
  return (JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)) as string[]).sort();
}

async function pexDistributions(pex: string): Promise<string[]> {
  const { stdout } = await run('python3', ['-c', 'import json, sys, zipfile; print(json.dumps(sorted(json.loads(zipfile.ZipFile(sys.argv[1]).read("PEX-INFO"))["distributions"])))', pex]);
  return JSON.parse(stdout);
}

const pexOf = (root: string, svc: string) => join(root, 'dist', 'examples', 'services', svc, `${svc}.pex`);

beforeAll(async () => {
  let base: NodeJS.ProcessEnv;
  ({ server, scratch, env: base } = await startWorkspaceIndex('nx-pex-affected-', 'six-1.16.0'));
  env = {
    ...base,
    // Generators never reach for uv here: the test brings the locks uv made.
    PATH: (process.env.PATH ?? '').split(':').filter((d) => !existsSync(join(d, 'uv'))).join(':'),
  };
  delete env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('affected and the cache in a generated workspace of 6 services and 3 libraries', () => {
  let ws: string;

  beforeAll(async () => {
    ws = await makeWorkspace('ws');
    const gen = async (kind: string, name: string, deps: string) => {
      // six, click and idna are third-party: confirmed as such (--allow-external).
      const out = await nx(ws, ['g', `nx-pex:${kind}`, name, ...(deps ? [`--dependencies=${deps}`, '--allow-external'] : []), '--skipLock', '--no-interactive']);
      expect(out).toMatch(new RegExp(`run \`uv lock\` in examples`));
    };
    await gen('python-library', 'lib-x', 'greeting');
    await gen('python-library', 'lib-y', '');
    await gen('python-service', 'svc-c', 'lib-x,six');
    await gen('python-service', 'svc-d', 'lib-y,six');
    await gen('python-service', 'svc-e', 'lib-x,click');
    await gen('python-service', 'svc-f', 'greeting,idna');
    // The services use their libraries, as real code would.
    for (const [svc, mod] of [['svc-c', 'lib_x'], ['svc-d', 'lib_y'], ['svc-e', 'lib_x']]) {
      const main = join(ws, 'examples/services', svc, 'src', svc.replace('-', '_'), 'main.py');
      await writeFile(main, (await readFile(main, 'utf8')).replace('import sys\n', `import sys\n\nfrom ${mod} import hello\n`).replace(/return "Hello from [^"]+!"/, `return hello("${svc}")`));
    }
    await cp(join(LOCKS, 'uv.lock'), join(ws, 'examples/uv.lock'));
    const synced = await nx(ws, ['sync']);
    expect(synced).toMatch(/synced successfully/);
    expect(await nx(ws, ['sync:check'])).toMatch(/up to date/);
    await sh(ws, 'git', ['init', '-q']);
    await commitAll(ws, 'generated workspace');
    const projects = (await nx(ws, ['show', 'projects', '--withTarget=build'])).split('\n').filter((l) => /^[\w.-]+$/.test(l)).sort();
    expect(projects).toEqual([...SERVICES].sort());
    const built = taskStatus(await nx(ws, ['run-many', '-t', 'build']));
    expect(Object.keys(built).sort()).toEqual([...SERVICES].sort());
    const out = await sh(ws, pexOf(ws, 'svc-c'), []);
    expect(out.trim()).toBe('Hello from lib-x, svc-c!');
  });

  it("marks exactly a library's dependents affected when its source changes", async () => {
    await writeFile(join(ws, 'examples/libs/lib-y/src/lib_y/__init__.py'), 'def hello(name: str) -> str:\n    return f"Hi from lib-y, {name}!"\n');
    expect(await affectedBuilds(ws)).toEqual(['svc-d']);
    const log = await nx(ws, ['affected', '-t', 'build', '--base=HEAD']);
    expect(Object.keys(taskStatus(log))).toEqual(['svc-d']);
    expect((await sh(ws, pexOf(ws, 'svc-d'), [])).trim()).toBe('Hi from lib-y, svc-d!');
    await writeFile(join(ws, 'examples/libs/lib-x/src/lib_x/extra.py'), 'X = 1\n');
    expect(await affectedBuilds(ws)).toEqual(['svc-c', 'svc-d', 'svc-e']);
    const again = taskStatus(await nx(ws, ['affected', '-t', 'build', '--base=HEAD']));
    expect(again).toEqual({ 'svc-c': '', 'svc-d': expect.stringMatching(/cache/), 'svc-e': '' });
    await commitAll(ws, 'library edits');
  });

  it('rebuilds nothing for a README edit in a service: its build is a cache hit', async () => {
    await nx(ws, ['build', 'svc-c']);
    await writeFile(join(ws, 'examples/services/svc-c/README.md'), '# svc-c\n\nNotes that never reach the PEX.\n');
    await writeFile(join(ws, 'examples/services/svc-c/tests/test_more.py'), 'def test_nothing():\n    pass\n');
    const log = await nx(ws, ['build', 'svc-c']);
    expect(cached(taskStatus(log)['svc-c'])).toBe(true);
    await commitAll(ws, 'notes');
  });

  it('after a lock bump of six and nx sync, exactly the 2 services that use six are affected and rebuilt', async () => {
    const before = await pexDistributions(pexOf(ws, 'svc-c'));
    expect(before).toContain('six-1.17.0-py2.py3-none-any.whl');
    await cp(join(LOCKS, 'uv.six-1.16.0.lock'), join(ws, 'examples/uv.lock'));
    // Stale: sync:check fails in CI, and a build says to run nx sync.
    expect(await nxFails(ws, ['sync:check'])).toMatch(/out of sync|pylock\.toml/);
    expect(await nxFails(ws, ['build', 'svc-c', '--skip-nx-cache'])).toMatch(/pylock\.toml is out of date: .*Run `nx sync`/);
    await nx(ws, ['sync']);
    const changed = (await sh(ws, 'git', ['status', '--porcelain'])).split('\n').filter(Boolean).map((l) => l.slice(3)).sort();
    expect(changed).toEqual(['examples/services/svc-c/pylock.toml', 'examples/services/svc-d/pylock.toml', 'examples/uv.lock']);
    expect(await affectedBuilds(ws)).toEqual(['svc-c', 'svc-d']);
    const status = taskStatus(await nx(ws, ['run-many', '-t', 'build']));
    expect(Object.keys(status).sort()).toEqual([...SERVICES].sort());
    for (const svc of SERVICES) expect([svc, cached(status[svc])]).toEqual([svc, !['svc-c', 'svc-d'].includes(svc)]);
    for (const svc of ['svc-c', 'svc-d']) {
      const dists = await pexDistributions(pexOf(ws, svc));
      expect(dists).toContain('six-1.16.0-py2.py3-none-any.whl');
      expect(dists).not.toContain('six-1.17.0-py2.py3-none-any.whl');
    }
    expect((await sh(ws, pexOf(ws, 'svc-d'), [])).trim()).toBe('Hi from lib-y, svc-d!');
    await commitAll(ws, 'six 1.16.0');
  });

  it('builds the other services when one pyproject.toml is broken, and fails the broken one with its message', async () => {
    const file = join(ws, 'examples/services/svc-f/pyproject.toml');
    const good = await readFile(file, 'utf8');
    try {
      await writeFile(file, good.replace('[project.scripts]', '[project.scripts'));
      expect((await nx(ws, ['show', 'projects'])).split('\n')).toEqual(expect.arrayContaining(['svc-c', 'svc-f']));
      expect(taskStatus(await nx(ws, ['build', 'svc-e', '--skip-nx-cache']))['svc-e']).toBe('');
      expect(await nxFails(ws, ['build', 'svc-f', '--skip-nx-cache'])).toMatch(/examples\/services\/svc-f\/pyproject\.toml:\d+:\d+: .*Fix the TOML syntax at that line/);
      await writeFile(file, good.replace('[build-system]', '[tool.nx-pex]\nlayuot = "packed"\n\n[build-system]'));
      expect(await nxFails(ws, ['build', 'svc-f', '--skip-nx-cache'])).toMatch(/examples\/services\/svc-f\/pyproject\.toml:\d+: \[tool\.nx-pex\] has an unknown key "layuot"/);
    } finally {
      await writeFile(file, good);
    }
  });

  it('fails the build of a service that imports a workspace library it does not declare, naming file, line and the fix', async () => {
    const main = join(ws, 'examples/services/svc-f/src/svc_f/main.py');
    const good = await readFile(main, 'utf8');
    try {
      await writeFile(main, `${good}\n\ndef _uses_lib_y():\n    import lib_y\n    return lib_y\n`);
      const line = (await readFile(main, 'utf8')).split('\n').indexOf('    import lib_y') + 1;
      const log = await nxFails(ws, ['build', 'svc-f', '--skip-nx-cache']);
      expect(log).toMatch(
        new RegExp(
          `examples/services/svc-f/src/svc_f/main\\.py:${line}: imports lib_y, which the workspace project lib-y \\(examples/libs/lib-y\\) provides, but svc-f does not depend on it.*` +
            `Add "lib-y" to \\[project\\] dependencies in examples/services/svc-f/pyproject\\.toml and, under \\[tool\\.uv\\.sources\\], lib-y = \\{ workspace = true \\}`,
        ),
      );
    } finally {
      await writeFile(main, good);
    }
  });
});

/** Nx's self-hosted remote cache API: PUT and GET /v1/cache/{hash} with a bearer token. */
function startRemoteCache(token: string): Promise<{ url: string; server: Server; puts: string[]; gets: Array<[string, number]> }> {
  const store = new Map<string, Buffer>();
  const puts: string[] = [];
  const gets: Array<[string, number]> = [];
  const body = (req: IncomingMessage) =>
    new Promise<Buffer>((resolveBody, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolveBody(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  const server = createServer(async (req, res) => {
    const m = /^\/v1\/cache\/([^/?]+)$/.exec(req.url ?? '');
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('the access token is not valid');
      return;
    }
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const hash = m[1];
    if (req.method === 'PUT') {
      const data = await body(req);
      if (store.has(hash)) {
        res.writeHead(409).end();
        return;
      }
      store.set(hash, data);
      puts.push(hash);
      res.writeHead(200).end();
    } else if (req.method === 'GET') {
      const data = store.get(hash);
      gets.push([hash, data ? 200 : 404]);
      if (!data) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end(data);
    } else {
      res.writeHead(405).end();
    }
  });
  return new Promise((resolveServer) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolveServer({ url: `http://127.0.0.1:${port}`, server, puts, gets });
    });
  });
}

describe("Nx's self-hosted remote cache across two clones", () => {
  it('gives every build target of the second clone as a remote hit, with byte-identical PEX files that run', async () => {
    const token = 'test-token-0123';
    const cache = await startRemoteCache(token);
    try {
      const remote = { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: cache.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token };
      const first = await makeWorkspace('machine-one');
      const second = await makeWorkspace('another/path/machine-two');
      const one = { ...remote, NX_PEX_STORE: join(scratch, 'store-one'), XDG_CACHE_HOME: join(scratch, 'xdg-one'), PEX_ROOT: join(scratch, 'pex-one') };
      const two = { ...remote, NX_PEX_STORE: join(scratch, 'store-two'), XDG_CACHE_HOME: join(scratch, 'xdg-two'), PEX_ROOT: join(scratch, 'pex-two') };
      const built = taskStatus(await nx(first, ['run-many', '-t', 'build'], one));
      expect(Object.keys(built).sort()).toEqual(['service-a', 'service-b']);
      expect(cache.puts.length).toBeGreaterThanOrEqual(2);
      const hits = taskStatus(await nx(second, ['run-many', '-t', 'build'], two));
      expect(hits).toEqual({ 'service-a': 'remote cache', 'service-b': 'remote cache' });
      expect(cache.gets.filter(([, code]) => code === 200).length).toBeGreaterThanOrEqual(2);
      for (const svc of ['service-a', 'service-b']) {
        const a = await readFile(pexOf(first, svc));
        const b = await readFile(pexOf(second, svc));
        expect(createHash('sha256').update(b).digest('hex')).toBe(createHash('sha256').update(a).digest('hex'));
      }
      const out = JSON.parse(await sh(second, pexOf(second, 'service-b'), ['1', '2', '3'], two));
      expect(out).toMatchObject({ mean: 2, greeting: 'Hello from greeting, service-b!' });
      // A wrong token is refused, and Nx says so.
      await rm(join(second, 'dist'), { recursive: true, force: true });
      await rm(join(second, '.nx'), { recursive: true, force: true });
      const denied = await nxFails(second, ['build', 'service-b'], { ...two, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 'wrong' });
      expect(denied).toMatch(/the access token is not valid/);
    } finally {
      cache.server.close();
    }
  });
});
