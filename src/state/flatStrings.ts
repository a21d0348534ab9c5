/**
 * `strings`, each made one flat run of characters in place, in a list of
 * its exact length. V8 keeps a string built by concatenation (an evidence
 * sentence, a dozen pieces) as a tree of its pieces until a character of it
 * is read, and a key's state holds its last sentences for as long as the
 * key lives: flat, a sentence takes about a third of the heap. Reading a
 * character flattens the whole string; the values are the same strings.
 * A list built by pushes holds 16 slots or more whatever its length, so a
 * copy is returned (`slice` allocates exactly what it copies); a frozen
 * list (one shared by every key) is returned as it is.
 */
export function flatStrings<T extends readonly string[]>(strings: T): T {
  for (let i = 0; i < strings.length; i++) if (strings[i].length > 0 && strings[i].charCodeAt(0) < 0) break;
  return Object.isFrozen(strings) ? strings : (strings.slice() as readonly string[] as T);
}
