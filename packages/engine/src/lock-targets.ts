/**
 * Markers for a lock of several targets: each target's environment (PEP 751 `environments`), and
 * for a package some targets need, the smallest marker that holds on exactly those targets.
 */
import { evaluateMarker, formatDnf, markerDnf, UserError, type MarkerEnvironment, type TargetPlatform } from '@nx-pex/pep';

/** The marker variables a target is told by, in the order markers name them. */
const KEYS: ReadonlyArray<keyof MarkerEnvironment> = ['sys_platform', 'platform_machine', 'python_version', 'implementation_name', 'python_full_version'];

function atom(key: keyof MarkerEnvironment, env: MarkerEnvironment): string {
  return `${key} == ${JSON.stringify(env[key])}`;
}

const defined = (t: TargetPlatform, k: keyof MarkerEnvironment) => typeof t.markerEnvironment[k] === 'string' && t.markerEnvironment[k] !== '';

/**
 * The environment marker of a target: its platform, machine, Python minor version and
 * implementation (not the patch release, so that the lock still fits after a patch upgrade).
 */
export function environmentMarker(t: TargetPlatform): string {
  const atoms = KEYS.filter((k) => k !== 'python_full_version' && defined(t, k)).map((k) => atom(k, t.markerEnvironment));
  return atoms.join(' and ');
}

const holds = (marker: string, t: TargetPlatform) => evaluateMarker(marker, t.markerEnvironment);

/**
 * The smallest marker (fewest variables) that holds on the targets in `chosen` and on none of the
 * others; undefined when `chosen` is every target. Throws when markers cannot tell the targets apart
 * (two targets with one marker environment, say manylinux and musllinux of one machine).
 */
export function targetsMarker(all: readonly TargetPlatform[], chosen: ReadonlySet<string>, what: string): string | undefined {
  const inside = all.filter((t) => chosen.has(t.id));
  const outside = all.filter((t) => !chosen.has(t.id));
  if (outside.length === 0) return undefined;
  const keys = KEYS.filter((k) => all.every((t) => defined(t, k)) && new Set(all.map((t) => t.markerEnvironment[k])).size > 1);
  for (let size = 1; size <= keys.length; size++) {
    for (const subset of subsets(keys, size)) {
      const text = inside.map((t) => subset.map((k) => atom(k, t.markerEnvironment)).join(' and ')).map((x) => (inside.length > 1 && subset.length > 1 ? `(${x})` : x)).join(' or ');
      if (outside.some((t) => holds(text, t))) continue;
      return formatDnf(markerDnf(text)) ?? text;
    }
  }
  const twins = outside.filter((o) => inside.some((i) => KEYS.every((k) => i.markerEnvironment[k] === o.markerEnvironment[k])));
  throw new UserError(
    `${what} is chosen for ${inside.map((t) => t.id).join(', ')} but not for ${twins.map((t) => t.id).join(', ')}, and markers cannot tell these targets apart ` +
      `(their marker environments are the same). Lock them separately (one nx-pex lock per target, -o FILE).`,
  );
}

function* subsets<T>(items: readonly T[], size: number, from = 0): Generator<T[]> {
  if (size === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= items.length - size; i++) for (const rest of subsets(items, size - 1, i + 1)) yield [items[i]!, ...rest];
}
