import { ProbewatchError } from '../errors.ts';

/**
 * Confluent wire framing: magic byte 0, a 4-byte big-endian schema id, then
 * the Avro binary payload. Schema Registry clients read and write this form.
 */
export const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

export function frame(schemaId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeUInt32BE(schemaId, 1);
  payload.copy(out, HEADER_BYTES);
  return out;
}

export function unframe(bytes: Buffer): { schemaId: number; payload: Buffer } {
  if (bytes.length < HEADER_BYTES) {
    throw new ProbewatchError('PW_DECODE_FRAMING', `message of ${bytes.length} bytes is shorter than the 5-byte Confluent header`);
  }
  if (bytes[0] !== MAGIC_BYTE) {
    throw new ProbewatchError('PW_DECODE_FRAMING', `magic byte is ${bytes[0]}, expected 0 (Confluent framing)`);
  }
  return { schemaId: bytes.readUInt32BE(1), payload: bytes.subarray(HEADER_BYTES) };
}
