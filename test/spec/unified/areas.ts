/** The spec areas the gate runs, each a folder of unified-format JSON files under ../shared/spec. */
import * as path from 'node:path';

export const SPEC_AREAS = ['change-streams', 'transactions', 'crud'] as const;
export type SpecArea = (typeof SPEC_AREAS)[number];

/** The repository root (test/spec/unified -> ../../..). */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export function isSpecArea(name: string): name is SpecArea {
  return (SPEC_AREAS as readonly string[]).includes(name);
}

/** `../shared/spec/<area>` next to the repository (the Node driver 6.20.0's copies; never copied in). */
export function specDirectory(area: SpecArea): string {
  return path.resolve(REPO_ROOT, '..', 'shared', 'spec', area);
}
