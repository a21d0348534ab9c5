/** Escapes Redis glob characters (SCAN MATCH, KEYS) so a key prefix matches only itself. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
