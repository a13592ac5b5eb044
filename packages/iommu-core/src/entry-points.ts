// For the packages' entry-point tests: a name that two entry points export is one that moved
// without leaving the old entry (or a copy that could drift), whichever package it is in.

/** Each name exported by more than one of the modules, as `name: first and second` (entry order). */
export function exportedTwice(entries: Readonly<Record<string, object>>): string[] {
  const seen = new Map<string, string>();
  const twice: string[] = [];
  for (const [entry, mod] of Object.entries(entries)) {
    for (const k of Object.keys(mod)) {
      const first = seen.get(k);
      if (first !== undefined) twice.push(`${k}: ${first} and ${entry}`);
      else seen.set(k, entry);
    }
  }
  return twice;
}
