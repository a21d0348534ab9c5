/**
 * Splits `items` into consecutive runs that each hold at most `maxKeys`
 * distinct keys, order kept (so each key's events stay in order). A batch
 * with more keys than memory holds is processed run by run: every key of a
 * run stays in memory from its restore to its snapshot.
 */
export function chunkByKeys<T>(items: readonly T[], keyOf: (item: T) => string, maxKeys: number): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let keys = new Set<string>();
  for (const item of items) {
    const key = keyOf(item);
    if (!keys.has(key) && keys.size >= maxKeys) {
      chunks.push(chunk);
      chunk = [];
      keys = new Set();
    }
    keys.add(key);
    chunk.push(item);
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}
