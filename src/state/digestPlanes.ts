/**
 * The dedup ring's digests (`eventIdDigest`: integers below 2^52) as byte
 * planes, for a packed state: byte k of every digest together, 7 bytes a
 * digest. As doubles each digest takes 8 bytes (9 in V8's serialisation of
 * an array), whose exponent and top bits deflate cannot tell apart from the
 * random bits beside them; in planes the top plane (4 bits a digest) sits
 * apart, and the ring of a busy key packs about a seventh smaller (1.9 kB
 * for 256 digests against 2.2 kB; 1,664 bytes is what 52 bits a digest hold).
 * Lossless: `digestsFromPlanes(digestPlanes(ids))` gives `ids` back.
 */
export function digestPlanes(ids: readonly number[]): Uint8Array | undefined {
  const n = ids.length;
  const planes = new Uint8Array(PLANES * n);
  for (let i = 0; i < n; i++) {
    const d = ids[i];
    // Anything else (a digest of another form, -0) stays as it is.
    if (!Number.isInteger(d) || d < 0 || d >= LIMIT || Object.is(d, -0)) return undefined;
    const lo = d % 2 ** 32;
    const hi = (d - lo) / 2 ** 32;
    planes[i] = lo & 0xff;
    planes[n + i] = (lo >>> 8) & 0xff;
    planes[2 * n + i] = (lo >>> 16) & 0xff;
    planes[3 * n + i] = lo >>> 24;
    planes[4 * n + i] = hi & 0xff;
    planes[5 * n + i] = (hi >>> 8) & 0xff;
    planes[6 * n + i] = hi >>> 16;
  }
  return planes;
}

/** The digests of `digestPlanes`, in their order, as an array of exactly their number. */
export function digestsFromPlanes(planes: Uint8Array): number[] {
  const n = planes.length / PLANES;
  const ids = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const lo = (planes[i] | (planes[n + i] << 8) | (planes[2 * n + i] << 16) | (planes[3 * n + i] << 24)) >>> 0;
    const hi = planes[4 * n + i] | (planes[5 * n + i] << 8) | (planes[6 * n + i] << 16);
    ids[i] = hi * 2 ** 32 + lo;
  }
  return ids;
}

/** Bytes a digest: 52 bits. */
const PLANES = 7;
const LIMIT = 2 ** 52;
