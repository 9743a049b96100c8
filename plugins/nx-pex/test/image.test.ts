/**
 * Images written by nx-pex itself (`--image`), pushed with `nx-pex push`, on a temporary copy of
 * the example workspace with service-c (same third-party closure as service-a): a real
 * docker-registry on 127.0.0.1 behind a counting proxy receives them, skopeo reads them, podman
 * runs the pushed image and the service answers /health. Two services share the dependency
 * layer's digest and the registry receives it once; after a source edit only the sources layer,
 * the config and the manifest are sent; another checkout with another store gives the same digest.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeWith, dockerClient, itWith } from '@nx-pex/testkit';
import type { IndexServer } from '@nx-pex/index-server';
import { exampleWithServiceC, freePort, pollHealth } from './layers-support';
import { makeWorkspace, NX, sh, startWorkspaceIndex } from './workspace-support';
import { baseLayoutFromRootfs, podmanSetup, startRegistry, type Registry } from './image-support';
import { requireBuiltCli, runCli, type CliResult } from './support';

const exec = promisify(execFile);
jest.setTimeout(900_000);

interface Manifest {
  config: { digest: string; size: number };
  layers: Array<{ digest: string; size: number }>;
}

describeWith(['registry', 'skopeo', 'podman'], 'images written by nx-pex', () => {
  let server: IndexServer;
  let scratch: string;
  let ws: string;
  let base: string;
  let registry: Registry;
  let nxEnv: NodeJS.ProcessEnv;
  const env = (store: string): NodeJS.ProcessEnv => ({ PIP_INDEX_URL: server.url, NX_PEX_STORE: join(scratch, store), PEX_ROOT: join(scratch, 'pex-root') });
  const ok = (r: CliResult, what: string) => {
    if (r.code !== 0) throw new Error(`${what} failed:\n${r.stderr}`);
    return r;
  };
  const build = async (root: string, project: string, out: string, store = 'store') =>
    ok(await runCli(['build', '--project', join(root, project), '--output-dir', join(scratch, out)], { cwd: scratch, env: env(store) }), `nx-pex build ${project}`);
  const push = async (project: string, out: string, repo: string, store = 'store') =>
    ok(
      await runCli(['push', '--project', join(ws, project), '--output-dir', join(scratch, out), '--image-repository', `${registry.host}/${repo}`], { cwd: scratch, env: env(store) }),
      `nx-pex push ${project}`,
    );
  const layout = (out: string, script: string) => `oci:${join(scratch, out, 'image')}:${script}`;
  const manifestOf = async (out: string, script: string): Promise<Manifest> =>
    JSON.parse((await exec('skopeo', ['inspect', '--raw', layout(out, script)])).stdout) as Manifest;
  const digestOf = async (out: string, script: string): Promise<string> => {
    const index = JSON.parse(await readFile(join(scratch, out, 'image', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    return index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === script)!.digest;
  };
  /** Turns the image on in a project's [tool.nx-pex]. */
  const enableImage = async (root: string, project: string) =>
    appendFile(join(root, project, 'pyproject.toml'), `\n[tool.nx-pex]\nimage = true\nimage-base = "${base}"\nimage-ports = ["8000"]\n`);

  beforeAll(async () => {
    requireBuiltCli();
    ({ server, scratch, env: nxEnv } = await startWorkspaceIndex('nx-pex-image-', 'fastapi-'));
    base = await baseLayoutFromRootfs(join(scratch, 'base'));
    ws = await exampleWithServiceC(join(scratch, 'ws'));
    for (const p of ['services/service-a', 'services/service-c']) await enableImage(ws, p);
    registry = await startRegistry(join(scratch, 'registry'));
  });

  afterAll(async () => {
    await registry?.close();
    await server?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  let depsDigest: string;

  it('gives two services with one closure the same dependency layer, which the registry receives once', async () => {
    expect((await build(ws, 'services/service-a', 'a')).stderr).toMatch(/image dependency layer \w+ \(14 wheels, .*\) written to the store/);
    // The second service takes the layer the first one wrote.
    expect((await build(ws, 'services/service-c', 'c')).stderr).toMatch(/image dependency layer \w+ \(14 wheels, .*\) reused from the store/);
    const a = await manifestOf('a', 'service-a');
    const c = await manifestOf('c', 'service-c');
    // base, dependencies, sources
    expect(a.layers).toHaveLength(3);
    expect(c.layers).toHaveLength(3);
    expect(a.layers[0]!.digest).toBe(c.layers[0]!.digest);
    expect(a.layers[1]!.digest).toBe(c.layers[1]!.digest);
    expect(a.layers[2]!.digest).not.toBe(c.layers[2]!.digest);
    depsDigest = a.layers[1]!.digest;

    registry.reset();
    await push('services/service-a', 'a', 'team/service-a');
    const c1 = await push('services/service-c', 'c', 'team/service-c');
    const uploadedDeps = registry.uploads.filter((u) => u.digest === depsDigest);
    expect(uploadedDeps).toHaveLength(1);
    expect(uploadedDeps[0]!.bytes).toBe(a.layers[1]!.size);
    // service-c's push mounted the base and dependency layers from service-a's repository.
    expect(registry.mounts).toEqual(expect.arrayContaining([a.layers[0]!.digest, depsDigest]));
    expect(c1.stderr).toMatch(/mounted/);
    const inspected = JSON.parse((await exec('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.direct}/team/service-c:latest`])).stdout) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(await digestOf('c', 'service-c'));
    expect(inspected.Layers[1]).toBe(depsDigest);
  });

  it('is built by nx build and pushed by nx run <project>:push', async () => {
    const nxws = await makeWorkspace(join(scratch, 'nxws'));
    await appendFile(
      join(nxws, 'examples/services/service-a/pyproject.toml'),
      `\n[tool.nx-pex]\nimage = true\nimage-base = "${base}"\nimage-repository = "${registry.host}/team/nx-service-a"\nimage-tags = ["1.0", "latest"]\n`,
    );
    const built = await sh(nxws, NX, ['build', 'service-a'], nxEnv);
    expect(built).toMatch(/Successfully ran target build for project service-a/);
    registry.reset();
    const pushed = await sh(nxws, NX, ['run', 'service-a:push'], nxEnv);
    expect(pushed).toMatch(/pushed service-a to .*team\/nx-service-a:1\.0,latest/);
    // The store of this workspace's builds already pushed these layers to team/service-a: mounted, not sent.
    expect(registry.mounts.length).toBeGreaterThanOrEqual(1);
    const layoutDir = join(nxws, 'dist/examples/services/service-a/image');
    const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    for (const tag of ['1.0', 'latest']) {
      const inspected = JSON.parse((await exec('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.direct}/team/nx-service-a:${tag}`])).stdout) as { Digest: string };
      expect(inspected.Digest).toBe(index.manifests[0]!.digest);
    }
    // Run again with nothing changed: the build is a cache hit, the push sends no blob.
    expect(await sh(nxws, NX, ['build', 'service-a'], nxEnv)).toMatch(/existing outputs match the cache|\[local cache\]/);
    registry.reset();
    await sh(nxws, NX, ['run', 'service-a:push'], nxEnv);
    expect(registry.uploads).toEqual([]);
  });

  it('runs the image nx pushed with podman, and the service answers /health', async () => {
    const podman = await podmanSetup(join(scratch, 'podman'));
    const port = await freePort();
    const name = `nx-pex-image-${randomBytes(4).toString('hex')}`;
    const child = spawn(
      'podman',
      [...podman.args, 'run', '--rm', '--name', name, '--network=host', '--tls-verify=false', `${registry.direct}/team/nx-service-a:latest`, '--port', String(port)],
      { env: podman.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    try {
      const health = await pollHealth(port, 300_000, () => (child.exitCode !== null ? `podman run exited with ${child.exitCode}:\n${output}` : undefined));
      expect(health).toEqual({ status: 'ok', service: 'service-a', greeting: 'Hello from greeting, service-a!' });
    } finally {
      await exec('podman', [...podman.args, 'kill', name], { env: podman.env }).catch(() => undefined);
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      await exec('podman', [...podman.args, 'rmi', '-a', '-f'], { env: podman.env }).catch(() => undefined);
    }
  });

  it('sends only the sources layer, the config and the manifest after a source edit', async () => {
    const before = await manifestOf('a', 'service-a');
    await writeFile(join(ws, 'services/service-a/src/service_a/extra.py'), `EDIT = ${JSON.stringify(randomBytes(4).toString('hex'))}\n`);
    await build(ws, 'services/service-a', 'a');
    const after = await manifestOf('a', 'service-a');
    expect(after.layers[0]!.digest).toBe(before.layers[0]!.digest);
    expect(after.layers[1]!.digest).toBe(depsDigest);
    expect(after.layers[2]!.digest).not.toBe(before.layers[2]!.digest);

    registry.reset();
    await push('services/service-a', 'a', 'team/service-a');
    const manifestBytes = (await readFile(join(scratch, 'a', 'image', 'blobs', 'sha256', (await digestOf('a', 'service-a')).slice(7)))).length;
    expect(registry.uploads.map((u) => u.digest).sort()).toEqual([after.layers[2]!.digest, after.config.digest].sort());
    expect(registry.mounts).toEqual([]);
    expect(registry.manifests).toEqual([{ ref: 'latest', bytes: manifestBytes }]);
    const received = Object.values(registry.bodyBytes).reduce((n, b) => n + b, 0);
    expect(received).toBe(after.layers[2]!.size + after.config.size + manifestBytes);
  });

  it('pulls a base image from a registry into the store, and builds from it offline afterwards', async () => {
    await exec('skopeo', ['copy', '--dest-tls-verify=false', `oci:${base}:bookworm`, `docker://${registry.direct}/base/bookworm:12`]);
    const ref = `${registry.direct}/base/bookworm:12`;
    const cli = (store: string, ...extra: string[]) =>
      runCli(['build', '--project', join(ws, 'services/service-c'), '--output-dir', join(scratch, 'pulled'), '--image-base', ref, ...extra], { cwd: scratch, env: env(store) });
    const pulled = ok(await cli('store-pull'), 'nx-pex build with a registry base');
    expect(pulled.stderr).toMatch(new RegExp(`pulling ${ref.replace(/\./g, '\\.')} \\(sha256:`));
    const fromRegistry = await manifestOf('pulled', 'service-c');
    const fromLayout = await manifestOf('c', 'service-c');
    // The same layers as from the layout the registry got the base from; the manifest names the base it came from.
    expect(fromRegistry.layers.map((l) => l.digest)).toEqual(fromLayout.layers.map((l) => l.digest));
    const raw = JSON.parse((await exec('skopeo', ['inspect', '--raw', layout('pulled', 'service-c')])).stdout) as { annotations: Record<string, string> };
    expect(raw.annotations['org.opencontainers.image.base.name']).toBe(ref);
    // Offline, the tag resolves to the digest it last had, and the base comes from the store.
    const online = await digestOf('pulled', 'service-c');
    const offline = ok(await cli('store-pull', '--offline'), 'nx-pex build --offline with a registry base');
    expect(offline.stderr).not.toMatch(/pulling/);
    expect(await digestOf('pulled', 'service-c')).toBe(online);
  });

  it('gives the same image digest from another checkout with another store', async () => {
    const ws2 = await exampleWithServiceC(join(scratch, 'ws2'));
    await enableImage(ws2, 'services/service-a');
    await writeFile(join(ws2, 'services/service-a/src/service_a/extra.py'), await readFile(join(ws, 'services/service-a/src/service_a/extra.py')));
    await build(ws2, 'services/service-a', 'a2', 'store2');
    expect(await digestOf('a2', 'service-a')).toBe(await digestOf('a', 'service-a'));
  });

  it('writes a tarball docker load reads, and skopeo copies it', async () => {
    ok(await runCli(['push', '--project', join(ws, 'services/service-a'), '--output-dir', join(scratch, 'a'), '--archive', join(scratch, 'archives')], { cwd: scratch, env: env('store') }), 'nx-pex push --archive');
    const inspected = JSON.parse((await exec('skopeo', ['inspect', `docker-archive:${join(scratch, 'archives', 'service-a.tar')}`])).stdout) as { Layers: string[] };
    const m = await manifestOf('a', 'service-a');
    // skopeo reports a docker-archive's layers by their uncompressed digests.
    expect(inspected.Layers).toHaveLength(m.layers.length);
  });

  itWith(['docker'], 'writes a tarball docker load takes, whose venv imports the closure and the sources', async () => {
    const docker = dockerClient();
    const tag = `nx-pex-image-test-${randomBytes(4).toString('hex')}`;
    ok(
      await runCli(['push', '--project', join(ws, 'services/service-a'), '--output-dir', join(scratch, 'a'), '--image-repository', tag, '--archive', join(scratch, 'archives-docker')], { cwd: scratch, env: env('store') }),
      'nx-pex push --archive',
    );
    try {
      const loaded = await exec(docker, ['load', '-i', join(scratch, 'archives-docker', 'service-a.tar')]);
      expect(loaded.stdout).toMatch(new RegExp(`Loaded image: ${tag}:latest`));
      const { stdout } = await exec(docker, ['run', '--rm', '--entrypoint', '/opt/venv/bin/python', `${tag}:latest`, '-c', 'import fastapi, service_a.main, sys; print(sys.prefix)']);
      expect(stdout.trim()).toBe('/opt/venv');
    } finally {
      await exec(docker, ['rmi', '-f', `${tag}:latest`]).catch(() => undefined);
    }
  });
});
