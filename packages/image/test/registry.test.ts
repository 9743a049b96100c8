/**
 * The registry client against a registry on 127.0.0.1 that asks for a Bearer token (as Docker
 * Hub and most registries do): credentials from a Docker config's `auths`, and from a credential
 * helper program, reach the token service and never an error message; references parse as
 * Docker parses them; retries cover a registry's 503.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReference, RegistryClient, registryCredentials } from '../src';

let dir: string;
let server: Server;
let port: number;
let seenAuth: string[];
let asked: string[];
let failures: number;
const TOKEN = 'token-for-tests';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nx-pex-registry-unit-'));
  seenAuth = [];
  asked = [];
  failures = 0;
  server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      seenAuth.push(req.headers.authorization ?? '');
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) {
        res.writeHead(401).end();
        return;
      }
      asked.push(`${url.searchParams.get('service')} ${url.searchParams.getAll('scope').join(' ')}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
      return;
    }
    if (failures > 0) {
      failures--;
      res.writeHead(503).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:team/app:pull"` }).end();
      return;
    }
    res.writeHead(url.pathname === '/v2/team/app/blobs/sha256:' + 'a'.repeat(64) ? 200 : 404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('references', () => {
  it('parse as Docker parses them', () => {
    expect(parseReference('python:3.12-slim')).toEqual({ registry: 'docker.io', repository: 'library/python', tag: '3.12-slim', digest: undefined });
    expect(parseReference('team/app')).toEqual({ registry: 'docker.io', repository: 'team/app', tag: undefined, digest: undefined });
    expect(parseReference(`127.0.0.1:5000/team/app:1@sha256:${'b'.repeat(64)}`)).toEqual({ registry: '127.0.0.1:5000', repository: 'team/app', tag: '1', digest: `sha256:${'b'.repeat(64)}` });
    expect(parseReference('localhost/app')).toMatchObject({ registry: 'localhost', repository: 'app' });
    expect(parseReference('Bad Name')).toBeUndefined();
  });
});

describe('credentials', () => {
  it('come from the Docker config auths and reach only the token service', async () => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
    const env = { ...process.env, DOCKER_CONFIG: dir };
    expect(await registryCredentials(`127.0.0.1:${port}`, env)).toEqual({ username: 'alice', password: 's3cret' });
    const client = new RegistryClient(`127.0.0.1:${port}`, { env });
    expect(await client.hasBlob('team/app', `sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(await client.hasBlob('team/app', `sha256:${'c'.repeat(64)}`)).toBe(false);
    // One token for the scope, asked for once, with the service and scope the challenge named.
    expect(seenAuth).toHaveLength(1);
    expect(asked).toEqual(['test-registry repository:team/app:pull,push']);
  });

  it('come from a credential helper named in credHelpers', async () => {
    const helper = join(dir, 'docker-credential-testhelper');
    await writeFile(helper, `#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = "127.0.0.1:${port}" ] && echo '{"ServerURL":"x","Username":"alice","Secret":"s3cret"}'\n`);
    await chmod(helper, 0o755);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [`127.0.0.1:${port}`]: 'testhelper' } }));
    const env = { ...process.env, DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH}` };
    const client = new RegistryClient(`127.0.0.1:${port}`, { env });
    expect(await client.hasBlob('team/app', `sha256:${'a'.repeat(64)}`)).toBe(true);
  });

  it('that are wrong give an error naming the registry, never the secret', async () => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('alice:wrong-password').toString('base64') } } }));
    const client = new RegistryClient(`127.0.0.1:${port}`, { env: { ...process.env, DOCKER_CONFIG: dir } });
    const err = (await client.hasBlob('team/app', `sha256:${'a'.repeat(64)}`).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} refused a token for repository:team/app:pull,push \\(HTTP 401`));
    expect(err.message).not.toMatch(/wrong-password|alice/);
  });
});

it('retries a registry that answers 503', async () => {
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
  failures = 2;
  const client = new RegistryClient(`127.0.0.1:${port}`, { env: { ...process.env, DOCKER_CONFIG: dir } });
  expect(await client.hasBlob('team/app', `sha256:${'a'.repeat(64)}`)).toBe(true);
  expect(failures).toBe(0);
});
