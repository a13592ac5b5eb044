// Module-level tables the packages export (timelines, releases, machines) are frozen all the way
// down: a caller that changed one would change every sim and profile built after it.

/** Freezes x and every object and array reachable from it; returns x. */
export function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}
