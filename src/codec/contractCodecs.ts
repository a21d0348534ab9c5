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

/** RiskScore: `final` is a nullable union on the wire and present only when true in memory. */
export const riskScoreCodec = new ContractCodec<RiskScore>(
  'RiskScore',
  (s) => ({ ...s, final: s.final ?? null }),
  ({ final, ...rest }) => (final ? { ...rest, final: true } : rest) as unknown as RiskScore,
);

export const decisionCodec = new ContractCodec<Decision>('Decision');

export const deadLetterCodec = new ContractCodec<DeadLetter>('DeadLetter');
