import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pushProject } from '@nx-pex/engine';
import { UsageError } from './errors';

const HELP = `Usage: nx-pex push --project DIR [options]

Sends the images a build wrote with --image (OUTPUT-DIR/image, an OCI layout) to a registry with
the Registry HTTP API v2: blobs the registry has are never sent again, a layer another
repository of the registry holds is mounted from it, credentials come from the Docker config
(~/.docker/config.json auths and credential helpers). The repository is [tool.nx-pex]
image-repository (with several scripts, /<script> is added) and the tags image-tags (default latest).

Options:
  --project DIR              the project (its pyproject.toml)
  --output-dir DIR           where the build wrote image/ (default: dist)
  --image-repository REPO    registry[:port]/path, over [tool.nx-pex] image-repository
  --image-tag TAG            a tag (repeatable), over [tool.nx-pex] image-tags
  -c, --script NAME          only this script's image
  --archive DIR              write DIR/<script>.tar for \`docker load\` instead of pushing
  --insecure                 plain HTTP to the registry (always for 127.0.0.1 and localhost)
  --store DIR                the store (it remembers which repositories hold which layers)
  -q, --quiet                print nothing but errors
`;

/** `nx-pex push`. */
export async function pushCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        project: { type: 'string' },
        'output-dir': { type: 'string' },
        'image-repository': { type: 'string' },
        'image-tag': { type: 'string', multiple: true },
        script: { type: 'string', short: 'c' },
        archive: { type: 'string' },
        insecure: { type: 'boolean' },
        store: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}. Run \`nx-pex push --help\`.`);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.project === undefined) throw new UsageError('nx-pex push needs --project DIR. Run `nx-pex push --help`.');
  const pushed = await pushProject({
    projectDir: resolve(values.project),
    outputDir: resolve(values['output-dir'] ?? 'dist'),
    pex: {
      ...(values['image-repository'] !== undefined ? { imageRepository: values['image-repository'] } : {}),
      ...(values['image-tag'] !== undefined ? { imageTags: values['image-tag'] } : {}),
    },
    script: values.script,
    archiveDir: values.archive,
    insecure: values.insecure,
    storeDir: values.store,
    log: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  for (const p of pushed) process.stdout.write(`${p.destination}@${p.digest}\n`);
  return 0;
}
