import { readFileSync } from 'node:fs';

/** probewatch's version, from its package.json (read once, at the CLI edge). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
