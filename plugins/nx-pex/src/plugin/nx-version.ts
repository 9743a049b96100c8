/**
 * The Nx majors nx-pex is tested with (the `npm run compat` matrix): 22, 23 and 24. The
 * package's peer range says the same; on another Nx the plugin says so in one message.
 */
import { logger, NX_VERSION } from '../nx-api';

export const SUPPORTED_NX_MAJORS = [22, 23, 24] as const;

/** Why `version` of Nx is not supported, or undefined when it is. */
export function unsupportedNx(version: string | undefined = NX_VERSION): string | undefined {
  const major = Number(/^(\d+)\./.exec(version ?? '')?.[1]);
  if ((SUPPORTED_NX_MAJORS as readonly number[]).includes(major)) return undefined;
  const first = SUPPORTED_NX_MAJORS[0];
  const last = SUPPORTED_NX_MAJORS[SUPPORTED_NX_MAJORS.length - 1];
  return (
    `nx-pex supports Nx ${SUPPORTED_NX_MAJORS.join(', ')}; this workspace runs Nx ${version ?? '(unknown version)'}. ` +
    (major < first ? `Upgrade Nx (\`nx migrate ${last}\`), or use an older nx-pex.` : `Use an nx-pex release made for Nx ${major}, or pin Nx to ${last} (\`npm install -D nx@${last}\`).`)
  );
}

let warned = false;

/** Warns once per process when the Nx running the plugin is not one nx-pex supports. */
export function warnOnUnsupportedNx(version: string | undefined = NX_VERSION): void {
  const why = unsupportedNx(version);
  if (!why || warned) return;
  warned = true;
  logger.warn(`nx-pex: ${why}`);
}
