/**
 * The reference's one hash: 32-bit FNV-1a of a string (a key id, a network
 * prefix, a tenant), never 0 so that 0 can mean "none". It tells which key
 * fed a member (a key is never judged by its own answers) and which
 * entities a member counts against (the gate's caps).
 */
export function referenceHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}
