import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { WheelStore, defaultStoreRoot, formatBytes, layerInfo, pruneLayers } from '@nx-pex/store';
import { UsageError } from './errors';

const CACHE_HELP = `Usage: nx-pex cache info [--store DIR] [--json]
       nx-pex cache prune [--older-than DAYS] [--max-size SIZE] [--dry-run] [--store DIR]

The wheel store holds every downloaded wheel once, by sha256, and every
dependencies layer (--layers, --docker) once, by the hash of what went into it.

  info                 Location, number of files and layers, and their size.
  prune                Remove files and layers not used for DAYS days
                       (--older-than), then the least recently used ones until
                       the store is at most SIZE (--max-size, e.g. 500M, 2G,
                       1.5GiB, or bytes); layers go before wheels, since they
                       are made again without the network. Files and layers
                       held by a running build are never removed.

Options:
  --store DIR          Wheel store. Default: $NX_PEX_STORE, else
                       $XDG_CACHE_HOME/nx-pex, else ~/.cache/nx-pex.
  --dry-run            Show what prune would remove, remove nothing.
  --json               Print info as JSON.
  -h, --help           Show this help.
`;

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };

/** `500M`, `2G`, `1.5GiB`, `1000000` → bytes (K/M/G/T are powers of 1000, KiB/MiB/GiB/TiB of 1024). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`--max-size ${JSON.stringify(text)} is not a size; write e.g. 500M, 2G, 1.5GiB or a number of bytes.`);
  return Math.floor(Number(m[1]) * unit);
}

function parseDays(text: string): number {
  const days = Number(text);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || !Number.isFinite(days)) {
    throw new UsageError(`--older-than ${JSON.stringify(text)} is not a number of days.`);
  }
  return days;
}

/** `nx-pex cache info|prune`. */
export async function cacheCommand(argv: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        store: { type: 'string' },
        'older-than': { type: 'string' },
        'max-size': { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun \`nx-pex cache --help\` for the options.`);
  }
  if (values.help) {
    process.stdout.write(CACHE_HELP);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}". Run \`nx-pex cache --help\`.`);
  const store = new WheelStore(values.store ? resolve(values.store) : defaultStoreRoot());
  if (sub === 'info') {
    const info = await store.info();
    const layers = await layerInfo(store);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...info, oldest: info.oldest?.toISOString(), newest: info.newest?.toISOString(), layers }, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `Location:  ${info.root}`,
      `Files:     ${info.files}${info.inUse ? ` (${info.inUse} held by running builds)` : ''}`,
      `Size:      ${formatBytes(info.bytes)} (${info.bytes} bytes)`,
    ];
    lines.push(`Layers:    ${layers.layers}${layers.inUse ? ` (${layers.inUse} held by running builds)` : ''}, ${formatBytes(layers.bytes)} (${layers.bytes} bytes)`);
    if (info.tmpFiles) lines.push(`Partial:   ${info.tmpFiles} unfinished downloads, ${formatBytes(info.tmpBytes)}`);
    if (info.oldest && info.newest) lines.push(`Last used: ${info.oldest.toISOString()} .. ${info.newest.toISOString()}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
  if (sub === 'prune') {
    const olderThan = values['older-than'];
    const maxSize = values['max-size'];
    if (olderThan === undefined && maxSize === undefined) {
      throw new UsageError('nx-pex cache prune needs --older-than DAYS and/or --max-size SIZE.');
    }
    const olderThanMs = olderThan !== undefined ? parseDays(olderThan) * 86_400_000 : undefined;
    const maxBytes = maxSize !== undefined ? parseSize(maxSize) : undefined;
    const dryRun = values['dry-run'];
    // Layers first: the wheels' bytes count against --max-size, and only layers go until they fit.
    const wheelBytes = (await store.info()).bytes;
    const layers = await pruneLayers(store, { olderThanMs, maxBytes: maxBytes !== undefined ? Math.max(0, maxBytes - wheelBytes) : undefined, dryRun });
    const result = await store.prune({ olderThanMs, maxBytes: maxBytes !== undefined ? Math.max(0, maxBytes - layers.remainingBytes) : undefined, dryRun });
    const verb = dryRun ? 'Would remove' : 'Removed';
    const kept = result.skippedInUse + layers.skippedInUse;
    process.stdout.write(
      `${verb} ${result.removed.length} files (${formatBytes(result.freedBytes)}) and ${layers.removed.length} layers (${formatBytes(layers.freedBytes)}) from ${store.root}; ` +
        `${result.remainingFiles} files (${formatBytes(result.remainingBytes)}) and ${layers.remainingLayers} layers (${formatBytes(layers.remainingBytes)}) ${dryRun ? 'would remain' : 'remain'}` +
        (kept ? `, ${kept} kept because running builds hold them` : '') +
        '.\n',
    );
    return 0;
  }
  if (sub === undefined) {
    process.stdout.write(CACHE_HELP);
    return 2;
  }
  throw new UsageError(`unknown cache command "${sub}"; use info or prune.`);
}
