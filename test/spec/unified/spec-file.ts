/** Unified-format test files: their shape and loading. */
import { EJSON, type Document } from 'bson';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EntityDescription } from './entities';
import type { ExpectedCollection, ExpectedEvents } from './expectations';
import type { OperationDescription } from './operations';
import type { RunOnRequirement } from './requirements';

/** A unified-format test file. */
export interface SpecFile {
  file: string;
  description: string;
  schemaVersion: string;
  runOnRequirements?: RunOnRequirement[];
  createEntities?: EntityDescription[];
  initialData?: (ExpectedCollection & { createOptions?: Document })[];
  tests: SpecTest[];
}

export interface SpecTest {
  description: string;
  runOnRequirements?: RunOnRequirement[];
  skipReason?: string;
  operations: OperationDescription[];
  expectEvents?: ExpectedEvents[];
  outcome?: ExpectedCollection[];
}

const SUPPORTED_SCHEMA_MAJOR = 1;

/** Reads the *.json files of a folder; a clear error when the folder is missing. */
export function loadSpecFiles(directory: string): SpecFile[] {
  if (!existsSync(directory)) {
    throw new Error(
      `Spec test folder not found: ${directory} (expected the unified-format JSON files of the driver specifications there)`,
    );
  }
  const files = readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort();
  if (!files.length) throw new Error(`No *.json spec test files in ${directory}`);
  return files.map((name) => {
    const spec = EJSON.parse(readFileSync(path.join(directory, name), 'utf8'), { relaxed: true }) as SpecFile;
    const major = Number(String(spec.schemaVersion).split('.')[0]);
    if (major !== SUPPORTED_SCHEMA_MAJOR)
      throw new Error(`${name}: unsupported schemaVersion ${spec.schemaVersion}`);
    return { ...spec, file: name };
  });
}
