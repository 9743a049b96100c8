/**
 * Temporary files of this process (partial downloads, outputs being written) and child process
 * groups (sdist builds) that must not outlive it.
 */
import { rmSync } from 'node:fs';

const tracked = new Set<string>();
/** Process group ids of children started in their own group (`detached`), killed with this process. */
const groups = new Set<number>();
let hooked = false;

function killGroups(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  groups.clear();
}

function removeTracked(): void {
  // Children first: a build still running would write into the directories being removed.
  killGroups();
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

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', removeTracked);
}

/** Removes `path` (a file or a directory) if the process is interrupted (SIGINT, SIGTERM) or exits before `keepOnInterrupt`. */
export function removeOnInterrupt(path: string): void {
  tracked.add(path);
  hook();
}

/**
 * Kills the process group `pgid` (a child spawned with `detached: true`, and everything it
 * started) with SIGKILL if this process is interrupted (SIGINT, SIGTERM) or exits before
 * `forgetGroup`.
 */
export function killGroupOnInterrupt(pgid: number): void {
  groups.add(pgid);
  hook();
}

/** Stops `killGroupOnInterrupt` for `pgid` (its process ended). */
export function forgetGroup(pgid: number): void {
  groups.delete(pgid);
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
