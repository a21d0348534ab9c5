import type { Level } from '../../../src/contract.ts';
import type { Answer } from './types.ts';

/**
 * What the gateway does to an answer at a key's current level (throttle,
 * truncate, deceive, block). Every answer an actor receives passes through
 * one of these.
 */
export interface Enforcement {
  /** False while no response is enforced: the table then prints "n/a" for protected figures. */
  readonly active: boolean;
  readonly name: string;
  apply(level: Level, answer: Answer): Answer;
}

/**
 * Today's gateway: no enforcement exists yet (issue 5), so every level
 * returns the model's answer unchanged. Replace with the SDK's enforcer once
 * it lands; nothing else in the benchmark changes.
 */
export const noEnforcement: Enforcement = {
  active: false,
  name: 'none (responses: issue 5)',
  apply: (_level, answer) => answer,
};
