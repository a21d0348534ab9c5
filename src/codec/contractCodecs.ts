import type avro from 'avsc';
import type { DeadLetter, Decision, RiskScore } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { frame, unframe } from './confluentFraming.ts';
import { type SchemaName, schemaType } from './schemas.ts';

/**
 * Fixed Confluent schema ids of the contract types this build writes, for
 * deployments without a Schema Registry (InferenceEvent is 1, see
 * AvroEventCodec). A registry-backed deployment maps the same schemas to its
 * own ids.
 */
export const SCHEMA_IDS = { InferenceEvent: 1, RiskScore: 2, Decision: 3, DeadLetter: 4 } as const satisfies Record<SchemaName, number>;

/** Confluent-framed Avro for one output contract type, written and read with the current schema. */
export class ContractCodec<T> {
  readonly type: avro.Type;
  readonly schemaId: number;

  constructor(
    readonly name: Exclude<SchemaName, 'InferenceEvent'>,
    private readonly toAvro: (value: T) => unknown = (v) => v,
    private readonly fromAvro: (value: Record<string, unknown>) => T = (v) => v as T,
  ) {
    this.type = schemaType(name);
    this.schemaId = SCHEMA_IDS[name];
  }

  encode(value: T): Buffer {
    return frame(this.schemaId, this.type.toBuffer(this.toAvro(value)));
  }

  decode(bytes: Buffer): T {
    const { schemaId, payload } = unframe(bytes);
    if (schemaId !== this.schemaId) {
      throw new ProbewatchError('PW_UNKNOWN_SCHEMA', `schema id ${schemaId} is not ${this.name} (expected ${this.schemaId})`);
    }
    try {
      return this.fromAvro({ ...(this.type.fromBuffer(payload) as Record<string, unknown>) });
    } catch (cause) {
      throw new ProbewatchError('PW_DECODE_AVRO', `payload is not a valid ${this.name}: ${(cause as Error).message}`, { cause });
    }
  }
}

/** Drops the optional fields that are null on the wire: in memory they are absent. */
function withoutNulls<T>(record: Record<string, unknown>, optional: readonly string[]): T {
  const out = { ...record };
  for (const name of optional) if (out[name] === null || out[name] === undefined) delete out[name];
  return out as T;
}

/** RiskScore: `final` and the shadow fields are nullable unions on the wire and present only when set in memory. */
export const riskScoreCodec = new ContractCodec<RiskScore>(
  'RiskScore',
  (s) => ({ ...s, final: s.final ?? null, shadow_risk: s.shadow_risk ?? null, shadow_level: s.shadow_level ?? null }),
  ({ final, ...rest }) => withoutNulls<RiskScore>(final ? { ...rest, final: true } : rest, ['shadow_risk', 'shadow_level']),
);

/** Decision: `shadow_level` is a nullable union on the wire; it, `manual`, `group` and `scope` are present in memory only when set (manual or group, not a key). */
export const decisionCodec = new ContractCodec<Decision>(
  'Decision',
  (d) => ({ ...d, shadow_level: d.shadow_level ?? null, manual: d.manual ?? false, scope: d.scope ?? 'key', group: d.group ?? false }),
  ({ manual, scope, group, ...rest }) => {
    const d = withoutNulls<Decision>(rest, ['shadow_level']);
    if (manual === true) d.manual = true;
    if (group === true) d.group = true;
    if (scope !== undefined && scope !== 'key') d.scope = scope as Decision['scope'];
    return d;
  },
);

export const deadLetterCodec = new ContractCodec<DeadLetter>('DeadLetter');
