/** Temporary files of this process (partial downloads, outputs being written) that must not outlive it. */
import { rmSync } from 'node:fs';

const tracked = new Set<string>();
let hooked = false;

function removeTracked(): void {
  for (const p of tracked) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // Best effort while the process goes down.
    }
  }
  tracked.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeTracked();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('exit', removeTracked);
  hooked = false;
  // With nobody else listening, die of the signal as the process would have without us.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Removes `path` (a file or a directory) if the process is interrupted (SIGINT, SIGTERM) or exits before `keepOnInterrupt`. */
export function removeOnInterrupt(path: string): void {
  tracked.add(path);
  if (hooked) return;
  hooked = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', removeTracked);
}

/** Stops `removeOnInterrupt` for `path` (it was moved into place or removed). */
export function keepOnInterrupt(path: string): void {
  tracked.delete(path);
}

/** Whether `path` is one of this process's temporary files. */
export function removedOnInterrupt(path: string): boolean {
  return tracked.has(path);
}

/** Whether the process `pid` on this machine is running (one of another user counts). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
