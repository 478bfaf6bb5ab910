/**
 * The iteration order of a CPython (3.8 or later) `set` built from a list of pairs of small
 * non-negative ints. The reference sorts its tile-grid candidates with `sorted(set(ratios), key=w*h)`;
 * the sort is stable, so among grids with the same tile count the set's order decides which of two
 * equally close aspect ratios wins. It is deterministic (ints and tuples of ints are not
 * hash-randomized), so it is reproduced here: the tuple hash and the set's open-addressing table.
 */

const MASK64 = (1n << 64n) - 1n;
const XXPRIME_1 = 11400714785074694791n;
const XXPRIME_2 = 14029467366897019727n;
const XXPRIME_5 = 2870177450012600261n;
const LINEAR_PROBES = 9;
const PERTURB_SHIFT = 5n;
const MIN_TABLE_SIZE = 8;

/** `hash((a, b))` for ints 0 ≤ a, b < 2^61 − 1 (where `hash(n) == n`), as an unsigned 64-bit value. */
export function pythonPairHash(a: number, b: number): bigint {
  let acc = XXPRIME_5;
  for (const lane of [BigInt(a), BigInt(b)]) {
    acc = (acc + lane * XXPRIME_2) & MASK64;
    acc = ((acc << 31n) | (acc >> 33n)) & MASK64;
    acc = (acc * XXPRIME_1) & MASK64;
  }
  acc = (acc + (2n ^ (XXPRIME_5 ^ 3527539n))) & MASK64;
  return acc === MASK64 ? 1546275796n : acc;
}

interface Slot {
  readonly pair: readonly [number, number];
  readonly hash: bigint;
}

/** Puts an entry in the first free slot of its probe sequence (CPython's `set_insert_clean`). */
function insert(table: (Slot | undefined)[], slot: Slot): void {
  const mask = BigInt(table.length - 1);
  let perturb = slot.hash;
  let i = slot.hash & mask;
  for (;;) {
    const run = i + BigInt(LINEAR_PROBES) <= mask ? LINEAR_PROBES : 0;
    for (let j = 0; j <= run; j++) {
      const index = Number(i) + j;
      if (table[index] === undefined) {
        table[index] = slot;
        return;
      }
    }
    perturb >>= PERTURB_SHIFT;
    i = (i * 5n + 1n + perturb) & mask;
  }
}

/** The elements of `set(pairs)` in the order CPython iterates them. */
export function pythonSetOrder(pairs: readonly (readonly [number, number])[]): [number, number][] {
  let table: (Slot | undefined)[] = new Array(MIN_TABLE_SIZE).fill(undefined);
  const seen = new Set<string>();
  for (const pair of pairs) {
    const key = pair.join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    insert(table, { pair, hash: pythonPairHash(pair[0], pair[1]) });
    // Nothing is ever removed, so `fill` (used + dummy slots) equals the number of entries.
    const mask = table.length - 1;
    if (seen.size * 5 >= mask * 3) {
      let size = MIN_TABLE_SIZE;
      const minUsed = seen.size > 50000 ? seen.size * 2 : seen.size * 4;
      while (size <= minUsed) size *= 2;
      const old = table;
      table = new Array(size).fill(undefined);
      for (const slot of old) if (slot !== undefined) insert(table, slot);
    }
  }
  return table.filter((slot): slot is Slot => slot !== undefined).map((slot) => [slot.pair[0], slot.pair[1]]);
}
