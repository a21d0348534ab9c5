import { DETECTORS } from '../../detectors/index.ts';

let kinds: ReadonlyMap<string, 'rate' | 'behaviour'> | undefined;

/**
 * Each registry detector's kind (`rate` or `behaviour`), read once from an
 * instance built with its default config: the kind is a property of the
 * detector class, and config validation needs it before any pipeline exists.
 */
export function detectorKinds(): ReadonlyMap<string, 'rate' | 'behaviour'> {
  kinds ??= new Map(DETECTORS.map((d) => [d.name, d.create(d.configSchema.parse({})).kind ?? 'behaviour']));
  return kinds;
}
