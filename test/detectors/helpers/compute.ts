import type { Compute } from '../../../src/compute/Compute.ts';
import { createCompute } from '../../../src/compute/createCompute.ts';

let shared: Promise<Compute> | undefined;

/** The project's Compute on the TensorFlow.js CPU backend (present on every machine), created once per test file. */
export function testCompute(): Promise<Compute> {
  shared ??= createCompute('cpu');
  return shared;
}
