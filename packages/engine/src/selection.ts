/**
 * A source's per-target selections made into what the writer takes: one list of store requests
 * (locked sdists built into wheels for their target), the first-party projects, the PEX-INFO
 * requirements and the closure's pins.
 */
import { evaluateMarker, formatRequirement, markerToString, parseRequirement, UserError, type TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import type { ArtifactRequest } from '@nx-pex/store';
import type { BuildContext } from './context';
import type { FetchedCheck, LockSource, TargetSelection } from './lock-source';
import { buildLockedSdists, checkLockedSdistsBuildable } from './locked-sdists';
import { targetsMarker } from './lock-targets';
import type { IndexContext } from './pipeline';

export interface Selection {
  /** Every target's wheels (the same file wanted by several targets is fetched once). */
  artifacts: ArtifactRequest[];
  /** First-party projects of any target, by canonical name. */
  firstParty: PyProject[];
  /** PEX-INFO requirements: a requirement only some targets need carries a marker naming them. */
  requirements: string[];
  /** Sorted `name==version` pins of every target's closure. */
  pins: string[];
  /** The targets' checks of the fetched files (run before the PEX is written). */
  afterFetch: FetchedCheck[];
}

/**
 * Selects for every target (one closure each; the PEX holds the wheels of all of them and pex's
 * runtime picks those that fit the interpreter it boots on).
 */
export async function selectForTargets(
  source: LockSource,
  targets: readonly TargetPlatform[],
  index: IndexContext,
  ctx: BuildContext,
  python: string | undefined,
): Promise<Selection> {
  const perTarget: TargetSelection[] = [];
  const order = source.order ? await source.order(targets, index, ctx) : targets.map((_, i) => i);
  for (const i of order) perTarget[i] = await source.select(targets[i]!, index, ctx);
  const builds = perTarget.map((s) => ({ sdists: s.sdists, build: { lockFile: source.lockFile!, target: s.target, python: python ?? 'python3' } }));
  // A target this machine cannot build sdists for fails before any sdist of any target is fetched or built.
  await checkLockedSdistsBuildable(builds, index, ctx);
  const artifacts: ArtifactRequest[] = [];
  for (const [i, s] of perTarget.entries()) {
    artifacts.push(...s.wheels);
    if (s.sdists.length) artifacts.push(...(await buildLockedSdists(s.sdists, builds[i]!.build, index, ctx)));
  }
  const firstParty = new Map<string, PyProject>();
  for (const s of perTarget) for (const p of s.firstParty) if (!firstParty.has(p.canonicalName!)) firstParty.set(p.canonicalName!, p);
  return {
    artifacts,
    firstParty: [...firstParty.values()],
    requirements: mergeRequirements(perTarget, targets),
    pins: [...new Set(perTarget.flatMap((s) => s.pins))].sort(),
    afterFetch: perTarget.flatMap((s) => (s.afterFetch ? [s.afterFetch] : [])),
  };
}

/**
 * The requirements of several targets as one list: one every target needs stays as it is; one
 * only some need gets a marker that holds on exactly those (so the runtime never asks, on one
 * target, for a package only another target's closure holds).
 */
export function mergeRequirements(perTarget: ReadonlyArray<{ target: TargetPlatform; requirements: readonly string[] }>, targets: readonly TargetPlatform[]): string[] {
  const where = new Map<string, Set<string>>();
  for (const s of perTarget) {
    for (const r of s.requirements) {
      let ids = where.get(r);
      if (!ids) where.set(r, (ids = new Set()));
      ids.add(s.target.id);
    }
  }
  const out = new Set<string>();
  for (const [text, ids] of where) {
    if (ownMarkerExcludes(text, targets.filter((t) => !ids.has(t.id)))) {
      out.add(text);
      continue;
    }
    let only: string | undefined;
    try {
      only = targetsMarker(targets, ids, `The requirement ${text}`);
    } catch (e) {
      // Targets that markers cannot tell apart (manylinux and musllinux of one machine) share
      // their requirements, as before targets had markers of their own.
      if (!(e instanceof UserError)) throw e;
      only = undefined;
    }
    out.add(only === undefined ? text : restrict(text, only));
  }
  return [...out].sort();
}

/** Whether the requirement's own marker is false on each of `others` (so it needs no other). */
function ownMarkerExcludes(text: string, others: readonly TargetPlatform[]): boolean {
  if (others.length === 0) return true;
  const { marker } = parseRequirement(text);
  return marker !== undefined && others.every((t) => !evaluateMarker(marker, t.markerEnvironment, []));
}

function restrict(text: string, marker: string): string {
  const req = parseRequirement(text);
  const own = req.marker ? `(${markerToString(req.marker)}) and (${marker})` : marker;
  return formatRequirement(parseRequirement(`${formatRequirement({ ...req, marker: undefined })} ; ${own}`));
}
