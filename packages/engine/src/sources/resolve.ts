/**
 * Requirements without a lock, resolved against the indexes and find-links for each target, as
 * pex resolves for each platform: the requirements given are PEX-INFO's requirements.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { canonicalizeName, evaluateMarker, formatRequirement, UserError, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import { parseCoreMetadata, readWheelMetadata, resolve as resolveRequirements, sdistBuilder, type ResolvedPackage } from '@nx-pex/resolver';
import type { ArtifactRequest } from '@nx-pex/store';
import type { BuildContext } from '../context';
import type { LockSource, TargetSelection } from '../lock-source';
import { downloadUnhashed } from '../pinned';
import type { IndexContext } from '../pipeline';
import { foreignTargetsFirst } from '../locked-sdists';
import { recordClaim, verifyClaimedMetadata, type MetadataClaim } from '../verify-metadata';
import { redactUrl } from '@nx-pex/index';

/** `url` without userinfo (for what is written down: PEX-INFO, locks). */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return url;
  }
}

export interface ResolveSourceOptions {
  requirements: readonly Requirement[];
  constraints: readonly Requirement[];
  pre?: boolean;
  onlyBinary?: string[];
  noBinary?: string[];
  noTransitive?: boolean;
  /** Interpreter that builds sdists; default `python3`. */
  python?: string;
}

export function resolveSource(o: ResolveSourceOptions): LockSource {
  const n = o.requirements.length;
  const builder = (target: TargetPlatform, { store, config }: IndexContext, ctx: BuildContext) =>
    sdistBuilder({ python: o.python ?? 'python3', target, store, env: ctx.env, index: config, log: ctx.log });
  return {
    description: `resolving ${n} requirement${n === 1 ? '' : 's'} without a lock`,
    projectRoot: process.cwd(),
    // Targets this machine cannot build sdists for are resolved first, so that they fail before any build.
    order: (targets, index, ctx) => foreignTargetsFirst(targets.map((t) => builder(t, index, ctx))),
    async select(target: TargetPlatform, index: IndexContext, ctx: BuildContext): Promise<TargetSelection> {
      if (ctx.offline && n > 0) {
        throw new UserError('Requirements without a lock are resolved against the indexes, which an offline build cannot do: give --lock, or build online.');
      }
      const { client, store, metadataCache } = index;
      const log = ctx.log;
      const resolution = await resolveRequirements([...o.requirements], {
        client,
        target,
        store,
        constraints: [...o.constraints],
        pre: o.pre,
        formats: { onlyBinary: o.onlyBinary, noBinary: o.noBinary },
        noTransitive: o.noTransitive,
        metadataCache,
        buildWheel: builder(target, index, ctx),
        log,
      });
      for (const p of resolution.packages) log(`  ${p.name} ${p.version}: ${p.built ? `${p.built.filename} (built from ${p.file.filename})` : p.file.filename}`);
      const requirements: string[] = [];
      for (const r of o.requirements) if (!r.marker || evaluateMarker(r.marker, target.markerEnvironment)) requirements.push(await rootRequirement(r, resolution.packages));
      const wheels = await Promise.all(resolution.packages.map((p) => resolvedArtifact(p, index, ctx)));
      // What the resolution read on the index's word, checked against the fetched wheels.
      const claims = new Map<string, MetadataClaim>();
      for (const [i, p] of resolution.packages.entries()) recordClaim(claims, p, wheels[i]!.sha256, redactUrl(p.file.url));
      return {
        target,
        wheels,
        sdists: [],
        firstParty: [],
        requirements,
        pins: resolution.packages.map((p) => `${p.name}==${p.version}`),
        afterFetch: (pathOf) => verifyClaimedMetadata(claims, pathOf, { storeRoot: store.root, metadataCache }),
      };
    },
  };
}

/** The store request for a resolved package: its wheel, or the wheel built from it. */
async function resolvedArtifact(p: ResolvedPackage, index: IndexContext, ctx: BuildContext): Promise<ArtifactRequest> {
  if (p.built) {
    return { project: p.name, version: p.version, filename: p.built.filename, sha256: p.built.sha256, size: p.built.size, url: pathToFileURL(p.built.path).href };
  }
  let sha256 = p.file.sha256 ?? p.sha256;
  if (!sha256) {
    sha256 = await downloadUnhashed(p.file, index.client, index.store);
    ctx.log(`${p.file.filename}: ${p.file.source} gives no sha256; downloaded it and computed sha256 ${sha256}`);
  }
  return { project: p.name, version: p.version, filename: p.file.filename, sha256, size: p.file.size, url: p.file.url };
}

/**
 * PEX-INFO's requirement for a root: a local file or directory is named by its project and
 * version, not its path; as pex does, by the Name and Version of its wheel's METADATA
 * (`PyYAML==6.0.4` for `pyyaml-6.0.4-….whl`).
 */
async function rootRequirement(req: Requirement, packages: ResolvedPackage[]): Promise<string> {
  // Credentials in a direct reference's URL never reach PEX-INFO.
  if (req.url && !req.url.startsWith('file:')) return formatRequirement({ ...req, url: withoutCredentials(req.url) });
  if (!req.url) return formatRequirement(req);
  const p = packages.find((x) => x.name === canonicalizeName(req.name));
  if (!p) return formatRequirement({ ...req, url: undefined, specifier: '' });
  const wheel = p.built ?? (p.file.filename.endsWith('.whl') && p.file.url.startsWith('file:') ? { path: fileURLToPath(p.file.url), filename: p.file.filename } : undefined);
  const metadata = wheel ? parseCoreMetadata(await readWheelMetadata(wheel.path, wheel.filename)) : undefined;
  return formatRequirement({ ...req, name: metadata?.name || req.name, url: undefined, specifier: `==${metadata?.version || p.version}` });
}
