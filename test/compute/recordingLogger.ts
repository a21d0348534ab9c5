import type { ComputeLogger } from '../../src/compute/createCompute.ts';

/** A ComputeLogger that keeps every line it is given. */
export function recordingLogger() {
  const lines: { msg: string; obj: Record<string, unknown> }[] = [];
  const logger: ComputeLogger = {
    info: (obj, msg) => lines.push({ msg, obj: obj as Record<string, unknown> }),
    warn: (obj, msg) => lines.push({ msg, obj: obj as Record<string, unknown> }),
  };
  return { logger, lines };
}
