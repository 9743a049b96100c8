/**
 * A console script whose name carries shell syntax (a space, `$()`, `;`, a glob character) gets a
 * Docker context whose Dockerfile names it only in JSON (exec) form: `docker build` makes a real
 * image from it without running any of it, and the image runs the script.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startIndexServer, writeFixtureWheel, type IndexServer } from '@nx-pex/index-server';
import { DOCKER_BASE_IMAGE, describeWith, dockerClient } from '@nx-pex/testkit';
import { copyPinnedPex, requireBuiltCli, runCli, uvLockText, writeWorkspace } from './support';

const exec = promisify(execFile);
jest.setTimeout(600_000);

// A space, a command substitution (with ${IFS} for the space a shell would need), a `;` and a glob.
const SCRIPT = 'my app$(touch${IFS}PWNED);semi;colon[1]*';

describeWith(['docker'], 'a Docker context for a script named with shell syntax', () => {
  let scratch: string;
  let server: IndexServer;
  const tag = `nx-pex-test-names-${process.pid}`;

  beforeAll(async () => {
    requireBuiltCli();
    scratch = await mkdtemp(join(tmpdir(), 'nx-pex-docker-names-'));
    const wheels = join(scratch, 'wheels');
    await copyPinnedPex(wheels);
    const six = await writeFixtureWheel(wheels, { name: 'six', version: '1.0' });
    server = await startIndexServer({ dir: wheels });
    await writeWorkspace(join(scratch, 'ws'), {
      pyproject: `[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["six"]\n\n[project.scripts]\n${JSON.stringify(SCRIPT)} = "app.main:main"\n`,
      sources: { 'main.py': 'import six\n\ndef main():\n    print("named app ran with six", six.__version__)\n' },
      lock: uvLockText({ dependencies: ['six'], registry: server.url, wheels: [{ name: 'six', file: six }] }),
    });
  });

  afterAll(async () => {
    await server?.close();
    await exec(dockerClient(), ['rmi', '-f', tag]).catch(() => undefined);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('builds and runs the image; nothing in the name is run by the build', async () => {
    const out = join(scratch, 'dist');
    const env = { PIP_INDEX_URL: server.url, NX_PEX_STORE: join(scratch, 'store'), PEX_ROOT: join(scratch, 'pex-root') };
    const res = await runCli(['build', '--project', join(scratch, 'ws', 'app'), '--output-dir', out, '--docker', '--docker-base-image', DOCKER_BASE_IMAGE], { env });
    if (res.code !== 0) throw new Error(`nx-pex build failed:\n${res.stderr}`);
    expect(res.code).toBe(0);
    const context = join(out, 'docker');
    expect(existsSync(join(context, `${SCRIPT}.pex`))).toBe(true);
    const dockerfile = await readFile(join(context, 'Dockerfile'), 'utf8');
    for (const line of dockerfile.split('\n').filter((l) => /^(COPY|RUN|ENTRYPOINT) /.test(l) && !l.startsWith('COPY --from'))) {
      expect(line).toMatch(/^(COPY|RUN|ENTRYPOINT) \[/);
    }
    let log: string;
    try {
      const built = await exec(dockerClient(), ['build', '--progress=plain', '-t', tag, context], { env: { ...process.env, DOCKER_BUILDKIT: '1' }, maxBuffer: 64 * 1024 * 1024 });
      log = `${built.stdout}\n${built.stderr}`;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`docker build failed:\n${dockerfile}\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`);
    }
    expect(log).not.toMatch(/PWNED\s*$/m);
    const { stdout } = await exec(dockerClient(), ['run', '--rm', tag]);
    expect(stdout.trim()).toBe('named app ran with six 1.0');
    // No PWNED file where the build's RUN steps ran: the sources stage (its venv step reads the
    // name), searched whole; nor in the final image or the context.
    const stage = /^FROM \S+ AS (srcs-\S+)$/m.exec(dockerfile)![1]!;
    await exec(dockerClient(), ['build', '-q', '--target', stage, '-t', `${tag}-srcs`, context], { env: { ...process.env, DOCKER_BUILDKIT: '1' } });
    try {
      for (const image of [`${tag}-srcs`, tag]) {
        const { stdout: found } = await exec(dockerClient(), ['run', '--rm', '--entrypoint', 'find', image, '/', '-xdev', '-name', 'PWNED*']);
        expect(found.trim()).toBe('');
      }
      const { stdout: copied } = await exec(dockerClient(), ['run', '--rm', '--entrypoint', 'ls', `${tag}-srcs`, '/nx-pex']);
      expect(copied.trim()).toBe("srcs.pex");
    } finally {
      await exec(dockerClient(), ['rmi', '-f', `${tag}-srcs`]).catch(() => undefined);
    }
    expect(existsSync(join(context, 'PWNED'))).toBe(false);
    expect(existsSync(join(process.cwd(), 'PWNED'))).toBe(false);
  });
});
