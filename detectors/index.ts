import type { DetectorDefinition } from './types.ts';
import { volume } from './volume.ts';

/** Every detector probewatch runs, in evidence order. Adding one is one file plus one line here. */
export const DETECTORS: readonly DetectorDefinition[] = [volume];

export type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
