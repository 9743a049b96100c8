/**
 * Progress of a batch of downloads. `fetchArtifacts` calls `start` when a
 * file's transfer begins, `advance` for every chunk (negative when a broken
 * transfer restarts), `done` when it ends, and `finish` once at the end.
 * Names passed here are file names, never URLs, so no credentials reach it.
 */
export interface ProgressReporter {
  /** `copiedFrom`: the file is copied from a local place (e.g. "the nx-pex package"), not downloaded. */
  start(file: string, totalBytes?: number, copiedFrom?: string): void;
  advance(file: string, deltaBytes: number): void;
  done(file: string, ok: boolean): void;
  finish(): void;
}

export interface ProgressOptions {
  /** Receives raw text (terminal mode) or whole lines ending in "\n" (line mode). */
  write: (text: string) => void;
  /** One updating line (a terminal) instead of one line per finished file (CI, logs). */
  tty: boolean;
  /** Shortest time between two redraws of the terminal line (default 100 ms). */
  intervalMs?: number;
  now?: () => number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * A reporter that draws one line on a terminal (files done/total, bytes,
 * rate), or writes one line per finished file and a summary otherwise. Files copied from a
 * local place are named as copied and not counted as downloads; each `finish` ends a batch (its
 * summary, when more than one file was downloaded, is written once).
 */
export function createProgressReporter(opts: ProgressOptions): ProgressReporter {
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? 100;
  const files = new Map<string, { total?: number; bytes: number; started: number }>();
  const copies = new Map<string, string>();
  let began: number | undefined;
  let finished = 0;
  let failed = 0;
  let bytes = 0;
  let lastDraw = -Infinity;

  const rate = () => {
    const ms = began === undefined ? 0 : now() - began;
    return ms > 0 ? `${formatBytes(Math.round((bytes * 1000) / ms))}/s` : '';
  };
  const draw = (force = false) => {
    if (!opts.tty) return;
    const t = now();
    if (!force && t - lastDraw < interval) return;
    lastDraw = t;
    const total = [...files.values()].reduce((s, f) => s + (f.total ?? f.bytes), 0);
    const parts = [`${finished}/${files.size} files`, `${formatBytes(bytes)}${total > bytes ? ` of ${formatBytes(total)}` : ''}`];
    const r = rate();
    if (r) parts.push(r);
    opts.write(`\r\x1b[KDownloading wheels: ${parts.join(', ')}`);
  };

  return {
    start(file, totalBytes, copiedFrom) {
      if (copiedFrom !== undefined) {
        copies.set(file, copiedFrom);
        return;
      }
      began ??= now();
      files.set(file, { total: totalBytes, bytes: 0, started: now() });
      draw();
    },
    advance(file, delta) {
      if (copies.has(file)) return;
      const f = files.get(file);
      if (f) f.bytes += delta;
      bytes += delta;
      draw();
    },
    done(file, ok) {
      const from = copies.get(file);
      if (from !== undefined) {
        copies.delete(file);
        if (ok) opts.write(`${opts.tty ? '\r\x1b[K' : ''}Copied ${file} from ${from}\n`);
        return;
      }
      const f = files.get(file);
      if (ok) finished++;
      else failed++;
      if (!opts.tty && ok && f) opts.write(`Downloaded ${file} (${formatBytes(f.bytes)} in ${seconds(now() - f.started)})\n`);
      draw(true);
    },
    finish() {
      if (files.size === 0) return;
      const summary =
        `Downloaded ${finished} of ${files.size} files (${formatBytes(bytes)}) in ${seconds(now() - (began ?? now()))}` +
        (failed ? `, ${failed} failed` : '');
      if (opts.tty) opts.write(`\r\x1b[K${summary}\n`);
      else if (files.size > 1 || failed) opts.write(`${summary}\n`);
      // The next batch (e.g. the runtime after the dependencies) reports only its own files.
      files.clear();
      began = undefined;
      finished = failed = bytes = 0;
      lastDraw = -Infinity;
    },
  };
}

/** Line-mode progress through a line logger (e.g. a build's `log`). */
export function lineProgress(log: (line: string) => void): ProgressReporter {
  return createProgressReporter({ tty: false, write: (text) => log(text.replace(/\n$/, '')) });
}

/**
 * Progress for a stream such as process.stderr: the updating line on a
 * terminal, plain lines when it is not one or when `CI` is set.
 */
export function streamProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): ProgressReporter {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI.toLowerCase() !== 'false';
  return createProgressReporter({ tty: Boolean(stream.isTTY) && !ci && env.TERM !== 'dumb', write: (t) => void stream.write(t) });
}
