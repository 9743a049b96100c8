/**
 * A client of the Docker Registry HTTP API v2 (the OCI distribution spec): manifests and blobs
 * pulled and pushed, Bearer-token and Basic auth answered as a registry's `WWW-Authenticate`
 * asks, retries with backoff for network errors, 429 and 5xx. Credentials go into headers only.
 */
import { createHash } from 'node:crypto';
import { open, rename, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MEDIA } from './blobs';
import { registryCredentials, type Credentials } from './credentials';
import { ImageError } from './errors';

export interface ImageReference {
  /** `host[:port]`; `docker.io` for Docker Hub. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_REGISTRY = 'docker.io';

/** Parses `[registry/]repository[:tag][@digest]` as Docker does (a first part with `.` or `:`, or `localhost`, is a registry). */
export function parseReference(ref: string): ImageReference | undefined {
  const m = /^(?:(?<host>[a-zA-Z0-9.-]+(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?)\/)?(?<repo>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/.exec(ref);
  if (!m?.groups) return undefined;
  let host: string | undefined = m.groups.host;
  let repo = m.groups.repo!;
  if (host !== undefined && !/[.:]/.test(host) && host !== 'localhost' && !host.startsWith('[')) {
    repo = `${host}/${repo}`;
    host = undefined;
  }
  const registry = host ?? DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repo.includes('/')) repo = `library/${repo}`;
  return { registry, repository: repo, tag: m.groups.tag, digest: m.groups.digest };
}

export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

export interface RegistryOptions {
  env?: NodeJS.ProcessEnv;
  /** Plain HTTP (always for 127.0.0.1, ::1 and localhost). */
  insecure?: boolean;
  /** Credentials instead of the Docker config's. */
  credentials?: Credentials;
  retries?: number;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^(\w+)\s*(.*)$/s.exec(header.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"|(\w+)=([^,\s]*)/g)) params[(p[1] ?? p[3])!.toLowerCase()] = p[2] ?? p[4]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || /^127\./.test(h);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const MANIFEST_TYPES = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList];

export class RegistryClient {
  readonly base: string;
  /** Bytes of request bodies sent (blobs and manifests). */
  sent = 0;
  private credentials?: Promise<Credentials | undefined>;
  private readonly tokens = new Map<string, string>();
  private basic?: string;

  constructor(
    readonly registry: string,
    private readonly o: RegistryOptions = {},
  ) {
    const host = registry === DEFAULT_REGISTRY ? 'registry-1.docker.io' : registry;
    this.base = `${o.insecure || isLoopback(host) ? 'http' : 'https'}://${host}`;
  }

  private creds(): Promise<Credentials | undefined> {
    this.credentials ??= this.o.credentials ? Promise.resolve(this.o.credentials) : registryCredentials(this.registry, this.o.env ?? process.env);
    return this.credentials;
  }

  private async token(challenge: Challenge, scope: string): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached) return cached;
    const realm = challenge.params.realm;
    if (!realm) throw new ImageError(`${this.registry} asked for a Bearer token but named no realm to get it from.`);
    const creds = await this.creds();
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const s of scope.split(' ')) url.searchParams.append('scope', s);
    let res: Response;
    if (creds?.identityToken) {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'nx-pex', scope });
      if (challenge.params.service) body.set('service', challenge.params.service);
      res = await this.fetchRetrying(realm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    } else {
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
      res = await this.fetchRetrying(url.toString(), { headers });
    }
    if (!res.ok) {
      throw new ImageError(
        `${this.registry} refused a token for ${scope} (HTTP ${res.status} from ${url.origin}${url.pathname})` +
          (creds ? '; check the credentials in the Docker config (docker login).' : '; log in first (docker login, or a credential helper in ~/.docker/config.json).'),
      );
    }
    const j = (await res.json()) as { token?: string; access_token?: string };
    const token = j.token ?? j.access_token;
    if (!token) throw new ImageError(`${this.registry}'s token service answered without a token.`);
    this.tokens.set(scope, token);
    return token;
  }

  private async fetchRetrying(url: string, init: RequestInit): Promise<Response> {
    const attempts = (this.o.retries ?? 3) + 1;
    for (let i = 0; ; i++) {
      try {
        const res = await fetch(url, { ...init, redirect: 'follow' });
        if ((res.status === 429 || res.status >= 500) && i + 1 < attempts) {
          await res.arrayBuffer().catch(() => undefined);
          await sleep(250 * 2 ** i);
          continue;
        }
        return res;
      } catch (e) {
        if (i + 1 >= attempts) {
          const u = new URL(url);
          throw new ImageError(`Cannot reach the registry ${this.registry} (${u.origin}${u.pathname}): ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}.`);
        }
        await sleep(250 * 2 ** i);
      }
    }
  }

  /**
   * One request to `pathOrUrl` (relative to the registry, or an upload Location), answering an
   * auth challenge once. `scope` is the token scope, e.g. `repository:team/app:pull,push`.
   */
  async request(method: string, pathOrUrl: string, scope: string, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
    const url = new URL(pathOrUrl, this.base).toString();
    const send = async (auth?: string) => {
      const headers: Record<string, string> = { ...init.headers };
      if (auth) headers.authorization = auth;
      const res = await this.fetchRetrying(url, { method, headers, body: init.body });
      return res;
    };
    const known = this.tokens.get(scope);
    let res = await send(known ? `Bearer ${known}` : this.basic);
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      await res.arrayBuffer().catch(() => undefined);
      if (challenge?.scheme === 'bearer') {
        this.tokens.delete(scope);
        res = await send(`Bearer ${await this.token(challenge, scope)}`);
      } else if (challenge?.scheme === 'basic') {
        const creds = await this.creds();
        if (!creds?.username) throw new ImageError(`${this.registry} needs a login: run docker login ${this.registry}, or add it to the Docker config.`);
        this.basic = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
        res = await send(this.basic);
      }
      if (res.status === 401) {
        await res.arrayBuffer().catch(() => undefined);
        throw new ImageError(`${this.registry} refused ${method} ${new URL(url).pathname}: not authorized; check your login for ${this.registry}.`);
      }
    }
    if (init.body) this.sent += init.body.length;
    return res;
  }

  private async fail(res: Response, what: string): Promise<never> {
    let detail = '';
    try {
      const j = (await res.json()) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (j.errors ?? []).map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ');
    } catch {
      // no JSON body
    }
    throw new ImageError(`${this.registry}: ${what} failed with HTTP ${res.status}${detail ? ` (${detail})` : ''}.`);
  }

  /** A manifest or index by tag or digest, its bytes checked against a digest reference. */
  async getManifest(repository: string, ref: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${ref}`, `repository:${repository}:pull`, { headers: { accept: MANIFEST_TYPES.join(', ') } });
    if (res.status === 404) {
      await res.arrayBuffer().catch(() => undefined);
      throw new ImageError(`${this.registry}/${repository}:${ref} does not exist (the registry has no such manifest); check the image reference.`);
    }
    if (!res.ok) await this.fail(res, `fetching the manifest ${repository}:${ref}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (ref.startsWith('sha256:') && ref !== digest) throw new ImageError(`${this.registry}/${repository}@${ref}: the registry sent a manifest whose digest is ${digest}.`);
    const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    const mediaType = parsed.mediaType ?? res.headers.get('content-type')?.split(';')[0] ?? (parsed.manifests ? MEDIA.ociIndex : MEDIA.ociManifest);
    return { bytes, mediaType, digest };
  }

  /** Downloads a blob to `dest` (atomically), checking its sha256. */
  async getBlob(repository: string, digest: string, dest: string): Promise<void> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`, `repository:${repository}:pull`);
    if (!res.ok || !res.body) await this.fail(res, `fetching the blob ${digest} of ${repository}`);
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o644);
    const h = createHash('sha256');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        h.update(chunk);
        await fh.write(chunk);
      }
      await fh.close();
      const got = `sha256:${h.digest('hex')}`;
      if (got !== digest) throw new ImageError(`${this.registry}/${repository}: the blob ${digest} arrived with the digest ${got}; try again.`);
      await rename(tmp, dest);
    } catch (e) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, `repository:${repository}:pull,push`);
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(res, `checking for the blob ${digest} in ${repository}`);
  }

  /** Asks the registry to mount `digest` from `from` into `repository`: true when it did. */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, `repository:${repository}:pull,push repository:${from}:pull`);
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 201) return true;
    if (res.status === 202) {
      // Mounting is not allowed here: the registry opened an upload instead; close it.
      const loc = res.headers.get('location');
      if (loc) await this.request('DELETE', loc, `repository:${repository}:pull,push`).then((r) => r.arrayBuffer()).catch(() => undefined);
      return false;
    }
    return false;
  }

  private withDigest(location: string, digest: string): string {
    const u = new URL(location, this.base);
    u.searchParams.set('digest', digest);
    return u.toString();
  }

  /**
   * Uploads the blob read by `read(start, length)` of `size` bytes: one PUT when it fits in
   * `chunkSize`, else PATCH chunks and a closing PUT.
   */
  async uploadBlob(repository: string, digest: string, size: number, read: (start: number, length: number) => Promise<Buffer>, chunkSize = 32 * 1024 * 1024): Promise<void> {
    const scope = `repository:${repository}:pull,push`;
    const start = await this.request('POST', `/v2/${repository}/blobs/uploads/`, scope);
    await start.arrayBuffer().catch(() => undefined);
    if (start.status !== 202) await this.fail(start, `starting the upload of ${digest} to ${repository}`);
    let location = start.headers.get('location');
    if (!location) throw new ImageError(`${this.registry} opened an upload without a Location.`);
    if (size <= chunkSize) {
      const body = await read(0, size);
      const res = await this.request('PUT', this.withDigest(location, digest), scope, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status !== 201) await this.fail(res, `uploading ${digest} to ${repository}`);
      return;
    }
    for (let offset = 0; offset < size; offset += chunkSize) {
      const length = Math.min(chunkSize, size - offset);
      const body = await read(offset, length);
      const res = await this.request('PATCH', location, scope, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), 'content-range': `${offset}-${offset + length - 1}` },
        body,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status !== 202) await this.fail(res, `uploading a chunk of ${digest} to ${repository}`);
      location = res.headers.get('location') ?? location;
    }
    const done = await this.request('PUT', this.withDigest(location, digest), scope, { headers: { 'content-length': '0' } });
    await done.arrayBuffer().catch(() => undefined);
    if (done.status !== 201) await this.fail(done, `finishing the upload of ${digest} to ${repository}`);
  }

  async putManifest(repository: string, ref: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${ref}`, `repository:${repository}:pull,push`, { headers: { 'content-type': mediaType }, body: bytes });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 201) await this.fail(res, `pushing the manifest ${repository}:${ref}`);
    return res.headers.get('docker-content-digest') ?? undefined;
  }

  async hasManifest(repository: string, ref: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repository}/manifests/${ref}`, `repository:${repository}:pull,push`, { headers: { accept: MANIFEST_TYPES.join(', ') } });
    await res.arrayBuffer().catch(() => undefined);
    return res.status === 200;
  }
}
