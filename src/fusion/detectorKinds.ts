import { DETECTORS } from '../../detectors/index.ts';
import type { EvidenceFamily } from '../../detectors/types.ts';

/** What fusion knows of a registry detector without running it. */
export interface DetectorTraits {
  kind: 'rate' | 'behaviour';
  family?: EvidenceFamily;
  signature?: boolean;
}

let traits: ReadonlyMap<string, DetectorTraits> | undefined;

/**
 * Each registry detector's kind, evidence family and signature flag, read
 * once from an instance built with its default config: they are properties
 * of the detector class, and config validation needs them before any
 * pipeline exists.
 */
export function detectorTraits(): ReadonlyMap<string, DetectorTraits> {
  traits ??= new Map(
    DETECTORS.map((d) => {
      const detector = d.create(d.configSchema.parse({}));
      return [d.name, { kind: detector.kind ?? 'behaviour', family: detector.family, signature: detector.signature }];
    }),
  );
  return traits;
}

/** Each registry detector's kind (`rate` or `behaviour`). */
export function detectorKinds(): ReadonlyMap<string, 'rate' | 'behaviour'> {
  return new Map([...detectorTraits()].map(([name, t]) => [name, t.kind]));
}
