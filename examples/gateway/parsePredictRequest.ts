import { z } from 'zod';
import { FEATURES } from '../../benchmarks/quality/weatherData.ts';

/** One validated prediction request. */
export interface PredictRequest {
  /** Raw feature values in `FEATURES` order. */
  raw: number[];
  /**
   * The canonical input bytes: the features as JSON in `FEATURES` order,
   * whatever the client's key order or spacing, so one input always hashes
   * alike. Only their keyed hash leaves the gateway.
   */
  canonical: string;
}

const finite = z.number().finite();
const requestSchema = z
  .object({
    precipitation: finite.min(0),
    temp_max: finite,
    temp_min: finite,
    wind: finite.min(0),
    day_of_year: z.number().int().min(1).max(366),
  } satisfies Record<(typeof FEATURES)[number], z.ZodType>)
  .strict();

/** The outcome of parsing: the request, or a message naming each bad field. */
export type ParseResult = { ok: true; request: PredictRequest } | { ok: false; message: string };

/** Parses and validates a `POST /v1/models/<id>/predict` body: a JSON object of the raw feature values. */
export function parsePredictRequest(body: string): ParseResult {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { ok: false, message: `the body must be a JSON object with the fields ${FEATURES.join(', ')}` };
  }
  const result = requestSchema.safeParse(doc);
  if (!result.success) {
    return { ok: false, message: result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') };
  }
  const raw = FEATURES.map((f) => result.data[f]);
  return { ok: true, request: { raw, canonical: JSON.stringify(Object.fromEntries(FEATURES.map((f, j) => [f, raw[j]]))) } };
}
