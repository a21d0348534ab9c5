import { readFileSync } from 'node:fs';
import { ProbewatchError } from './errors.ts';

/**
 * A secret from the environment: the variable `name` itself, or the file
 * named by `${name}_FILE` (Docker and Kubernetes secrets mount files), with
 * one trailing newline removed. `undefined` when neither is set. Setting
 * both is an error, so a stale value cannot shadow the mounted one. Errors
 * name the variable and the file, never the value.
 */
export function readSecret(env: Record<string, string | undefined>, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && direct !== '' && file !== undefined && file !== '') {
    throw new ProbewatchError('PW_CONFIG', `${name} and ${name}_FILE are both set: set only one`);
  }
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new ProbewatchError('PW_CONFIG', `${name}_FILE: cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new ProbewatchError('PW_CONFIG', `${name}_FILE: ${file} is empty`);
    return value;
  }
  return direct === '' ? undefined : direct;
}
