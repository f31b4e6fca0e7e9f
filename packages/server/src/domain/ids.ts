/** Sortable, prefixed identifiers (`ver_01J…`), so a log line says what it names and ids sort by creation time. */
import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulidx';

export type IdPrefix = 'ver' | 'app' | 'key' | 'msg' | 'att' | 'cb' | 'aud' | 'cli' | 'tpl' | 'snd' | 'evt' | 'whk' | 'whd' | 'wha' | 'gdc' | 'con';

// ulidx's default source asks the CSPRNG once per character (16 calls an id); drawing from a pooled buffer of
// CSPRNG bytes gives the same randomness at a fraction of the cost. Ids are names, not secrets.
const pool = new Uint8Array(4096);
let at = pool.length;
const pooledRandom = (): number => {
  if (at >= pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  return pool[at++]! / 0x100;
};

const ulid = monotonicFactory(pooledRandom);

/** A new id such as `ver_01JD3K…`; ids made later sort after ids made earlier (monotonic within a millisecond). */
export function newId(prefix: IdPrefix, now: number): string {
  return `${prefix}_${ulid(now)}`;
}

const ID_RE = /^(ver|app|key|msg|att|cb|aud|cli|tpl|snd|evt|whk|whd|wha|gdc|con)_[0-9A-HJKMNP-TV-Z]{26}$/;

/** True when `s` looks like an id of that kind; anything else cannot exist, so it is a 404 without a query. */
export function isId(prefix: IdPrefix, s: string): boolean {
  return ID_RE.test(s) && s.startsWith(`${prefix}_`);
}
