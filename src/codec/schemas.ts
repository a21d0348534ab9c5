import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

/** Folder holding the `.avsc` contract files. */
export const SCHEMA_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

export type SchemaName = 'InferenceEvent' | 'RiskScore' | 'Decision' | 'DeadLetter';

/** Parses a schema file from `schemas/` (or any path) into an avsc Type. */
export function loadSchema(nameOrPath: SchemaName | string): avro.Type {
  const path = nameOrPath.endsWith('.avsc') ? nameOrPath : `${SCHEMA_DIR}${nameOrPath}.avsc`;
  return avro.Type.forSchema(JSON.parse(readFileSync(path, 'utf8')));
}

const cache = new Map<SchemaName, avro.Type>();

/** The current version of a contract type, parsed once. */
export function schemaType(name: SchemaName): avro.Type {
  let type = cache.get(name);
  if (!type) {
    type = loadSchema(name);
    cache.set(name, type);
  }
  return type;
}
