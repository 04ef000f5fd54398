/** `runOnRequirements` of the unified test format, evaluated against the server under test. */
import type { Document } from 'bson';

/** What the runner knows of the server under test. */
export interface ServerProfile {
  /** e.g. "7.0.12". */
  version: string;
  /** "single" | "replicaset" | "sharded" | "load-balanced". */
  topology: string;
  serverless: boolean;
  auth: boolean;
}

/** One alternative of a runOnRequirements list. */
export interface RunOnRequirement {
  minServerVersion?: string;
  maxServerVersion?: string;
  topologies?: string[];
  serverless?: 'require' | 'forbid' | 'allow';
  auth?: boolean;
  csfle?: boolean;
  serverParameters?: Document;
}

/** Parses "4.2" / "4.2.99" into comparable parts. */
function versionParts(version: string): number[] {
  const parts = version.split('.').map((part) => Number.parseInt(part, 10));
  if (parts.some(Number.isNaN)) throw new Error(`invalid server version '${version}' in runOnRequirements`);
  while (parts.length < 3) parts.push(0);
  return parts;
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [versionParts(a), versionParts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const order = (x[i] ?? 0) - (y[i] ?? 0);
    if (order) return order;
  }
  return 0;
}

/** Why a requirement is not met, or undefined when it is. */
function unmet(requirement: RunOnRequirement, server: ServerProfile): string | undefined {
  const { minServerVersion, maxServerVersion, topologies, serverless, auth, csfle, serverParameters } =
    requirement;
  if (minServerVersion && compareVersions(server.version, minServerVersion) < 0)
    return `needs server >= ${minServerVersion}`;
  if (maxServerVersion && compareVersions(server.version, maxServerVersion) > 0)
    return `needs server <= ${maxServerVersion}`;
  if (topologies) {
    const accepted = topologies.includes('sharded-replicaset') ? [...topologies, 'sharded'] : topologies;
    if (!accepted.includes(server.topology)) return `needs topology ${topologies.join('/')}`;
  }
  if (serverless === 'require' && !server.serverless) return 'needs serverless';
  if (serverless === 'forbid' && server.serverless) return 'forbids serverless';
  if (auth !== undefined && auth !== server.auth) return auth ? 'needs auth' : 'needs no auth';
  if (csfle) return 'needs client-side field level encryption';
  if (serverParameters) return 'needs specific server parameters';
  return undefined;
}

/**
 * Undefined when any of the alternatives is met (or there are none), else the reasons none is.
 */
export function unmetRequirements(
  requirements: RunOnRequirement[] | undefined,
  server: ServerProfile,
): string | undefined {
  if (!requirements?.length) return undefined;
  const reasons = requirements.map((requirement) => unmet(requirement, server));
  return reasons.includes(undefined) ? undefined : reasons.join('; or ');
}
