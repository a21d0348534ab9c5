const names = new Map<string, Map<string, string>>();
/** Past this many distinct values per prefix the memo starts over (bounds memory). */
const MAX_REMEMBERED = 65_536;

/**
 * `prefix + value` (an aggregate entity's name: `tenant:acme`, `ip:…`),
 * interned: the same few names recur on every event, and a string built per
 * event is garbage by the next one.
 */
export function entityName(prefix: string, value: string): string {
  let byValue = names.get(prefix);
  if (!byValue) names.set(prefix, (byValue = new Map()));
  let name = byValue.get(value);
  if (name === undefined) {
    if (byValue.size >= MAX_REMEMBERED) byValue.clear();
    byValue.set(value, (name = prefix + value));
  }
  return name;
}
