import type { LockedSource } from './types';

/**
 * A stable string naming a source, used to tell apart same-named packages in one lock:
 * `registry+https://pypi.org/simple`, `editable+libs/core`, `git+https://…#<sha>`, `url+https://…`.
 */
export function sourceKey(source: LockedSource): string {
  switch (source.kind) {
    case 'registry':
    case 'git':
      return `${source.kind}+${source.url}`;
    case 'url':
      return `url+${source.url}${source.subdirectory ? `#subdirectory=${source.subdirectory}` : ''}`;
    default:
      return `${source.kind}+${source.path}`;
  }
}

/** True for sources that are the workspace's own code rather than a built distribution. */
export function isFirstPartySource(source: LockedSource): boolean {
  return source.kind === 'editable' || source.kind === 'virtual' || source.kind === 'directory';
}
