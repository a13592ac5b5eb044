// Module-level tables the packages export (timelines, releases, machines) are frozen all the way
// down: a caller that changed one would change every sim and profile built after it.

/**
 * Freezes x and every object and array reachable from it, inside objects that were frozen already
 * too (a spread of a frozen entry keeps its children's references); returns x. Cycles end at an
 * object met before.
 */
export function deepFreeze<T>(x: T, seen: WeakSet<object> = new WeakSet()): T {
  if (typeof x !== 'object' || x === null || seen.has(x)) return x;
  seen.add(x);
  Object.freeze(x);
  for (const v of Object.values(x)) deepFreeze(v, seen);
  return x;
}
