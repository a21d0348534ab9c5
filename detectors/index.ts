import type { DetectorDefinition } from './types.ts';
import { aggregates } from './aggregates.ts';
import { boundaryProbing } from './boundaryProbing.ts';
import { entropy } from './entropy.ts';
import { gridSweep } from './gridSweep.ts';
import { offManifold } from './offManifold.ts';
import { outputDrift } from './outputDrift.ts';
import { recurringOffsets } from './recurringOffsets.ts';
import { volume } from './volume.ts';

/** Every detector probewatch runs, in evidence order. Adding one is one file plus one line here. */
export const DETECTORS: readonly DetectorDefinition[] = [volume, gridSweep, recurringOffsets, offManifold, boundaryProbing, entropy, outputDrift, aggregates];

export type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
