// @ts-check
'use strict';
/**
 * The `image` case: an OCI image of the `web` and `big` cases' projects written by nx-pex
 * (`--image`, base: the debootstrap root filesystem tools/docker/start.sh leaves in
 * .cache/docker) and pushed to a docker-registry on 127.0.0.1, from nothing (cold) and after a
 * one-line source edit; against `docker build` of the Docker context nx-pex writes for the same
 * project (`--docker`, FROM the same root filesystem imported into Docker) when a daemon answers,
 * and against the bytes a naive push (every blob, no HEAD checks) would send.
 */
const { existsSync } = require('node:fs');
const fs = require('node:fs/promises');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { run } = require('./proc');
const inputs = require('./inputs');
const { stat, fmtMs } = require('./report');

const { REPO, CACHE, CASES } = inputs;
const ROOTFS = path.join(REPO, '.cache', 'docker', 'bookworm-python3.tar');
const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const DOCKER_BASE = 'nx-pex-test-python:bookworm';

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** docker-registry on a free 127.0.0.1 port, its storage under `dir`. */
async function startRegistry(dir) {
  const port = await freePort();
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, 'config.yml');
  await fs.writeFile(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'ignore'] });
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
    if (up) return { host: `127.0.0.1:${port}`, close: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('docker-registry did not start');
}

async function has(cmd, args) {
  return run(cmd, args, { allowFailure: true }).then((r) => r.code === 0, () => false);
}

/** What `nx-pex push` reports: blobs and bytes uploaded. */
function pushed(/** @type {string} */ stderr) {
  const m = /(\d+) blobs uploaded \((\d+) bytes\), (\d+) mounted, (\d+) already there/.exec(stderr);
  if (!m) throw new Error(`nx-pex push did not report what it sent:\n${stderr.slice(-2000)}`);
  return { blobs: Number(m[1]), bytes: Number(m[2]) };
}

/** Every blob of the image `script` in the layout at `dir` (what a push without HEAD checks sends). */
async function imageBytes(dir, script) {
  const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8'));
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === script);
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'blobs', 'sha256', entry.digest.slice(7)), 'utf8'));
  const layers = manifest.layers.map((l) => l.size);
  return { total: entry.size + manifest.config.size + layers.reduce((a, b) => a + b, 0), sourcesLayer: layers[layers.length - 1] };
}

/**
 * @param {{ runs: number, quick: boolean }} opts
 * @param {{ pexWheel: string }} ctx
 * @param {{ log: (l: string) => void, CLI: string, INDEX_SERVER: string, PYTHON: string, childEnv: (url: string, extra?: Record<string, string>) => NodeJS.ProcessEnv }} env0
 */
async function benchImage(opts, ctx, { log, CLI, INDEX_SERVER, PYTHON, childEnv }) {
  if (!existsSync(ROOTFS)) {
    log(`image: skipped: ${path.relative(REPO, ROOTFS)} is missing (tools/docker/start.sh makes it)`);
    return { skipped: `${path.relative(REPO, ROOTFS)} is missing` };
  }
  const registryOk = await has('docker-registry', ['--version']);
  const dockerOk = (await has(DOCKER, ['info'])) && (await has(DOCKER, ['image', 'inspect', DOCKER_BASE]));
  const { startIndexServer } = require(INDEX_SERVER);
  const cases = opts.quick ? ['web'] : ['web', 'big'];
  const out = [];
  for (const name of cases) {
    const spec = CASES[name];
    const project = `bench-${name}`;
    const root = path.join(CACHE, 'cases', name);
    const wheelsDir = path.join(root, 'wheels');
    await inputs.downloadOnce(wheelsDir, spec.requirements, ctx.pexWheel, log);
    const wheels = await inputs.listWheels(wheelsDir);
    const server = await startIndexServer({ dir: wheelsDir });
    const registry = registryOk ? await startRegistry(path.join(CACHE, 'image', `registry-${name}`)) : undefined;
    try {
      const env = childEnv(server.url);
      const projectDir = path.join(CACHE, 'image', name, 'project');
      await fs.rm(projectDir, { recursive: true, force: true });
      await inputs.writeProject(projectDir, project, spec.requirements, spec.imports, spec.body);
      await fs.writeFile(path.join(projectDir, 'uv.lock'), inputs.lockText([{ name: project, editable: '.', requirements: spec.requirements, wheels }], server.url));
      const dist = path.join(CACHE, 'image', name, 'dist');
      const store = path.join(CACHE, 'image', name, 'store');
      const layout = path.join(dist, 'image');
      // Edits no earlier run made (Docker's build cache outlives a run of the bench).
      let edits = Date.now() * 10;
      let repoN = 0;
      const build = (/** @type {string[]} */ extra) =>
        run(process.execPath, [CLI, 'build', '--project', projectDir, '--lock', path.join(projectDir, 'uv.lock'), '--output-dir', dist, '--store', store, '--python', PYTHON, ...extra], { env });
      /** The image step's own time, as the build reports it (the rest of the build writes the PEX). */
      const imageStep = (/** @type {string} */ stderr) => {
        const m = /wrote image \S+ sha256:\w+ to .* \((\d+) ms\)/.exec(stderr);
        if (!m) throw new Error(`nx-pex build did not report its image step:\n${stderr.slice(-2000)}`);
        return Number(m[1]);
      };
      const image = () => build(['--image', '--image-base', ROOTFS]);
      const push = (/** @type {string} */ repo) =>
        run(process.execPath, [CLI, 'push', '--project', projectDir, '--output-dir', dist, '--store', store, '--image-repository', `${registry.host}/${repo}`], { env });

      /** @type {Record<string, number[]>} */
      const samples = { coldBuild: [], coldPush: [], editBuild: [], editPush: [], coldImageStep: [], editImageStep: [] };
      /** @type {Record<string, number[]>} */
      const bytes = { coldPush: [], editPush: [], naive: [], sourcesLayer: [] };
      const runs = name === 'big' ? Math.min(opts.runs, 2) : opts.runs;
      log(`image ${name}: ${wheels.length} wheels; cold and after-edit image build${registry ? ' and push' : ''} × ${runs}`);
      for (let i = 0; i < runs; i++) {
        await fs.rm(store, { recursive: true, force: true });
        await fs.rm(dist, { recursive: true, force: true });
        const cold = await image();
        samples.coldBuild.push(cold.ms);
        samples.coldImageStep.push(imageStep(cold.stderr));
        const repo = `bench/${name}-${process.pid}-${repoN++}`;
        if (registry) {
          const r = await push(repo);
          samples.coldPush.push(r.ms);
          bytes.coldPush.push(pushed(r.stderr).bytes);
        }
        await inputs.writeEdited(projectDir, project, ++edits);
        const edited = await image();
        samples.editBuild.push(edited.ms);
        samples.editImageStep.push(imageStep(edited.stderr));
        const sizes = await imageBytes(layout, project);
        bytes.naive.push(sizes.total);
        bytes.sourcesLayer.push(sizes.sourcesLayer);
        if (registry) {
          const r = await push(repo);
          samples.editPush.push(r.ms);
          bytes.editPush.push(pushed(r.stderr).bytes);
        }
      }
      /** @type {any} */
      const row = {
        case: name,
        wheels: wheels.length,
        coldBuild: stat(samples.coldBuild),
        editBuild: stat(samples.editBuild),
        coldImageStep: stat(samples.coldImageStep),
        editImageStep: stat(samples.editImageStep),
        ...(registry ? { coldPush: stat(samples.coldPush), editPush: stat(samples.editPush) } : { push: 'docker-registry is not installed' }),
        bytes: Object.fromEntries(Object.entries(bytes).map(([k, xs]) => [k, xs.length ? Math.max(...xs) : undefined])),
      };
      if (dockerOk) {
        // The Docker context of the same project, FROM the same root filesystem (imported by tools/docker/start.sh).
        const tag = `nx-pex-bench-${name}`;
        await build(['--docker', '--docker-base-image', DOCKER_BASE]);
        const dockerBuild = (/** @type {string[]} */ extra) => run(DOCKER, ['build', '-q', ...extra, '-t', tag, path.join(dist, 'docker')], { env: { ...process.env, DOCKER_BUILDKIT: '1' }, timeoutMs: 30 * 60_000 });
        log(`image ${name}: docker build of the generated context, from nothing then after an edit`);
        const cold = await dockerBuild(['--no-cache']);
        const edit = [];
        for (let i = 0; i < Math.min(runs, 2); i++) {
          await inputs.writeEdited(projectDir, project, ++edits);
          await build(['--docker', '--docker-base-image', DOCKER_BASE]);
          edit.push((await dockerBuild([])).ms);
        }
        await run(DOCKER, ['rmi', '-f', tag], { allowFailure: true });
        row.dockerBuild = { cold: cold.ms, edit: stat(edit) };
        row.ratio = { dockerEditOverImageEdit: stat(edit).median / row.editBuild.median };
        if (row.editPush) row.ratio.dockerEditOverImageEditAndPush = stat(edit).median / (row.editBuild.median + row.editPush.median);
        row.ratio.dockerEditOverImageStep = stat(edit).median / Math.max(row.editImageStep.median, 1);
      } else {
        row.dockerBuild = 'no Docker daemon with the base image (tools/docker/start.sh)';
      }
      if (row.bytes.editPush !== undefined) row.ratio = { ...row.ratio, naivePushBytesOverEditPush: row.bytes.naive / row.bytes.editPush };
      out.push(row);
      log(
        `image ${name}: build cold ${fmtMs(row.coldBuild.median)} (image step ${fmtMs(row.coldImageStep.median)}), after an edit ${fmtMs(row.editBuild.median)} (image step ${fmtMs(row.editImageStep.median)})` +
          (row.editPush ? `; push cold ${fmtMs(row.coldPush.median)} (${(row.bytes.coldPush / 1e6).toFixed(1)} MB), after an edit ${fmtMs(row.editPush.median)} (${row.bytes.editPush} bytes; naive ${(row.bytes.naive / 1e6).toFixed(1)} MB)` : '') +
          (row.dockerBuild?.edit ? `; docker build cold ${fmtMs(row.dockerBuild.cold)}, after an edit ${fmtMs(row.dockerBuild.edit.median)}` : ''),
      );
    } finally {
      registry?.close();
      await server.close();
    }
  }
  return { rows: out };
}

/** Lines of the report and the targets' checks. */
function imageReport(result) {
  if (!result || result.skipped) return { lines: result?.skipped ? [`image: skipped: ${result.skipped}`] : [], checks: [] };
  const lines = [];
  const checks = [];
  for (const r of result.rows) {
    lines.push(
      `image ${r.case} (${r.wheels} wheels): nx-pex build (PEX and image) cold ${fmtMs(r.coldBuild.median)} (image step ${fmtMs(r.coldImageStep.median)}), ` +
        `after an edit ${fmtMs(r.editBuild.median)} (image step ${fmtMs(r.editImageStep.median)})` +
        (r.editPush
          ? `; push cold ${fmtMs(r.coldPush.median)} (${(r.bytes.coldPush / 1e6).toFixed(1)} MB sent), after an edit ${fmtMs(r.editPush.median)} (${r.bytes.editPush} bytes sent, sources layer ${r.bytes.sourcesLayer} bytes; a naive push sends ${(r.bytes.naive / 1e6).toFixed(1)} MB)`
          : `; push: ${r.push}`),
    );
    if (r.dockerBuild?.edit) lines.push(`image ${r.case}: docker build of the Docker context: cold ${fmtMs(r.dockerBuild.cold)}, after an edit ${fmtMs(r.dockerBuild.edit.median)}`);
    else lines.push(`image ${r.case}: docker build: ${r.dockerBuild}`);
    const editTotal = r.editBuild.median + (r.editPush?.median ?? 0);
    checks.push({
      target: `image ${r.case}: build${r.editPush ? ' + push' : ''} after an edit ≤ 1 s`,
      measured: `${fmtMs(editTotal)} (image step ${fmtMs(r.editImageStep.median)}${r.editPush ? `, push ${fmtMs(r.editPush.median)}` : ''})`,
      met: editTotal <= 1000,
    });
    if (r.ratio?.dockerEditOverImageEdit !== undefined) {
      const ratio = r.ratio.dockerEditOverImageEditAndPush ?? r.ratio.dockerEditOverImageEdit;
      checks.push({
        target: `image ${r.case}: ≥ 20× faster than docker build after an edit`,
        measured: `${ratio.toFixed(1)}× (whole nx-pex build${r.editPush ? ' and push' : ''}); ${r.ratio.dockerEditOverImageStep.toFixed(0)}× (the image step alone)`,
        met: ratio >= 20,
      });
    }
    if (r.ratio?.naivePushBytesOverEditPush !== undefined) {
      checks.push({
        target: `image ${r.case}: after an edit, push sends the sources layer, config and manifest only`,
        measured: `${r.bytes.editPush} bytes (naive ${r.ratio.naivePushBytesOverEditPush.toFixed(0)}× more)`,
        met: r.bytes.editPush < r.bytes.sourcesLayer + 16384,
      });
    }
  }
  return { lines, checks };
}

module.exports = { benchImage, imageReport };
