/**
 * `nx-pex push` / `nx run <project>:push`: the images of a project's `image/` layout sent to its
 * repository (`imageRepository`, `/<script>` added when the project has several scripts) with
 * its tags (`imageTags`, default `latest`), or written as `docker load` archives. The store
 * remembers which repositories of a registry hold which blobs, so that another project's push
 * mounts a shared layer instead of uploading it again (as Docker's blob cache does).
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { readPyproject } from '@nx-pex/project';
import { layoutEntry, parseReference, pushImage, REF_NAME, writeDockerArchive, type PushResult } from '@nx-pex/image';
import { defaultStoreRoot } from '@nx-pex/store';
import { checkOptions, mergeOptions, toolOptions, type LayeredOptions } from './options';

export interface PushProjectOptions {
  projectDir: string;
  /** Where the build wrote `image/` (the build's output directory). */
  outputDir: string;
  /** Target or command-line options over `[tool.nx-pex]` (imageRepository, imageTags). */
  pex?: LayeredOptions;
  /** Only this script's image. */
  script?: string;
  /** Write `docker load` archives `<dir>/<script>.tar` instead of pushing. */
  archiveDir?: string;
  /** Plain HTTP to the registry (always for 127.0.0.1 and localhost). */
  insecure?: boolean;
  storeDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface PushedImage extends Partial<PushResult> {
  script: string;
  /** The reference pushed, or the archive written. */
  destination: string;
}

function holdersFile(storeRoot: string, registry: string, digest: string): string {
  const r = createHash('sha256').update(registry).digest('hex').slice(0, 16);
  return join(storeRoot, 'images', 'pushed', r, digest.replace(':', '-'));
}

export async function pushProject(o: PushProjectOptions): Promise<PushedImage[]> {
  const env = o.env ?? process.env;
  const log = o.log ?? (() => undefined);
  const project = await readPyproject(join(resolve(o.projectDir), 'pyproject.toml'));
  if (!project.name) throw new UserError(`${project.file} has no [project] table, so it has no image to push.`);
  const fromTool = toolOptions(project);
  checkOptions(fromTool, `${project.file} [tool.nx-pex]`);
  const opts = mergeOptions(o.pex, fromTool);
  const layout = join(resolve(o.outputDir), 'image');
  const index = JSON.parse(
    await readFile(join(layout, 'index.json'), 'utf8').catch(() => {
      throw new UserError(`${project.name} has no image at ${layout}: build it with the image option first (nx-pex build --project ${o.projectDir} --image, or image = true in [tool.nx-pex]).`);
    }),
  ) as { manifests: Array<{ annotations?: Record<string, string> }> };
  const scripts = index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((s): s is string => s !== undefined);
  const wanted = o.script !== undefined ? [o.script] : scripts;
  const tags = opts.imageTags ?? ['latest'];
  const out: PushedImage[] = [];
  for (const script of wanted) {
    const entry = await layoutEntry(layout, script);
    if (o.archiveDir !== undefined) {
      const repoName = opts.imageRepository ? `${opts.imageRepository}${scripts.length > 1 ? `/${script}` : ''}` : script;
      const dest = join(resolve(o.archiveDir), `${script}.tar`);
      await mkdir(resolve(o.archiveDir), { recursive: true });
      await writeDockerArchive(layout, entry, tags.map((t) => `${repoName}:${t}`), dest);
      log(`${project.name}: wrote ${dest} (docker load -i ${dest})`);
      out.push({ script, destination: dest, digest: entry.digest });
      continue;
    }
    if (!opts.imageRepository) {
      throw new UserError(`${project.name}: push needs a repository: set image-repository in ${project.file} [tool.nx-pex] (e.g. registry.example.com/team/${project.name}), or pass --image-repository.`);
    }
    const repoRef = `${opts.imageRepository}${scripts.length > 1 ? `/${script}` : ''}`;
    const ref = parseReference(repoRef);
    if (!ref || ref.tag || ref.digest) {
      throw new UserError(`${project.name}: imageRepository "${opts.imageRepository}" is not a repository (registry[:port]/path, without a tag); tags go in imageTags.`);
    }
    const storeRoot = resolve(o.storeDir ?? defaultStoreRoot(env));
    const result = await pushImage(layout, entry, ref, tags, {
      env,
      insecure: o.insecure,
      log: (line) => log(`${project.name}: ${line}`),
      knownHolders: async (digest) => (await readFile(holdersFile(storeRoot, ref.registry, digest), 'utf8').catch(() => '')).split('\n').filter((l) => l !== ''),
      onHeld: async (digest) => {
        const file = holdersFile(storeRoot, ref.registry, digest);
        const known = await readFile(file, 'utf8').catch(() => '');
        if (known.split('\n').includes(ref.repository)) return;
        await mkdir(join(file, '..'), { recursive: true });
        await appendFile(file, `${ref.repository}\n`);
      },
    });
    const sent = result.uploaded.reduce((n, u) => n + u.size, 0);
    log(
      `${project.name}: pushed ${script} to ${ref.registry}/${ref.repository}:${tags.join(',')} (${entry.digest}); ` +
        `${result.uploaded.length} blobs uploaded (${sent} bytes), ${result.mounted.length} mounted, ${result.present.length} already there`,
    );
    out.push({ script, destination: `${ref.registry}/${ref.repository}`, ...result });
  }
  return out;
}
