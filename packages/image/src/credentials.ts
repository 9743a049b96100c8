/**
 * Registry credentials found the way Docker finds them: `$DOCKER_CONFIG/config.json` (default
 * `~/.docker/config.json`): `credHelpers[<registry>]`, else an `auths` entry (`auth` is
 * base64 `user:password`, or an `identitytoken`), else the `credsStore` helper; a helper is the
 * program `docker-credential-<name>`, asked with `get` and the server on its stdin. Credentials
 * are only ever put in request headers, never in messages or logs.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ImageError } from './errors';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (Docker's `identitytoken`, a helper's `<token>` user). */
  identityToken?: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker Hub's key in config.json and for helpers. */
const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

function isDockerHub(registry: string): boolean {
  return registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io';
}

/** `https://host:port/v1/` → `host:port`, as Docker compares auths keys. */
function hostOf(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

async function readConfig(path: string): Promise<DockerConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as DockerConfig;
  } catch {
    throw new ImageError(`${path} is not valid JSON, so no registry credentials can be read from it; fix or remove it.`);
  }
}

/** Runs `docker-credential-<helper> get` for `server`; undefined when the helper has none. */
export function helperCredentials(helper: string, server: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => reject(new ImageError(`The Docker credential helper ${program} (named in the Docker config for ${server}) cannot run: ${(e as NodeJS.ErrnoException).code ?? e.message}. Install it or remove it from the Docker config.`)));
    child.on('close', (code) => {
      if (code !== 0) {
        // Docker's helpers say "credentials not found in native keychain" when they have none.
        if (/not found/i.test(out + err)) return resolve(undefined);
        return reject(new ImageError(`The Docker credential helper ${program} failed for ${server} (exit ${code}); run \`echo ${server} | ${program} get\` to see why.`));
      }
      try {
        const j = JSON.parse(out) as { Username?: string; Secret?: string };
        if (!j.Secret) return resolve(undefined);
        resolve(j.Username === '<token>' ? { identityToken: j.Secret } : { username: j.Username ?? '', password: j.Secret });
      } catch {
        reject(new ImageError(`The Docker credential helper ${program} answered ${server} with something that is not JSON.`));
      }
    });
    child.stdin.end(server);
  });
}

/** The credentials Docker would use for `registry` (`host[:port]`), or undefined. */
export async function registryCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const path = dockerConfigPath(env);
  const config = await readConfig(path);
  if (!config) return undefined;
  const host = registry.toLowerCase();
  const server = isDockerHub(host) ? DOCKER_HUB_SERVER : host;
  const helperKey = Object.keys(config.credHelpers ?? {}).find((k) => (isDockerHub(host) ? isDockerHub(hostOf(k)) || k === DOCKER_HUB_SERVER : hostOf(k) === host));
  if (helperKey) return helperCredentials(config.credHelpers![helperKey]!, server, env);
  const authKey = Object.keys(config.auths ?? {}).find((k) => (isDockerHub(host) ? k === DOCKER_HUB_SERVER || isDockerHub(hostOf(k)) : hostOf(k) === host));
  const entry = authKey ? config.auths![authKey]! : undefined;
  if (entry?.identitytoken) return { identityToken: entry.identitytoken };
  if (entry?.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new ImageError(`${path}: the auths entry for ${authKey} is not base64 of "user:password"; log in again (docker login ${host}).`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry?.username && entry.password) return { username: entry.username, password: entry.password };
  if (config.credsStore) return helperCredentials(config.credsStore, server, env);
  return undefined;
}
