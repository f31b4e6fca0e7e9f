// The traffic mix of the guard's simulator (bench/fraud-sim.mjs, against a running otpd) and of its model
// (bench/guard-model.mjs, on the guard's decision functions with a virtual clock): one definition for both.
//
// Legitimate traffic: users in five countries, about 3 starts a second (90 % verify, after `typing` seconds; the
// others never do, as in life); a tenfold marketing spike in FR from half-time for a fifth of the run; many users
// behind one shared address (a carrier's NAT) that appears at 30 % of the run (new to the guard, in countries it
// knows). Attacks (none ever verifies): sequential numbers in one prefix; the same in another prefix with a fresh
// `ip` signal per request; the same again without signal but with spoofed X-Forwarded-For entries in front of the
// address the (trusted) proxy saw; one address sending to many countries; a slow attack on a country with no
// legitimate traffic, from rotating addresses, under every plain volume limit.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

const MOBILE = {
  FR: (d) => `+336${d(8)}`, DE: (d) => `+49151${d(8)}`, GB: (d, r) => `+447${r(5) + 4}${d(8)}`, ES: (d) => `+346${d(8)}`, IT: (d) => `+393${d(9)}`,
  LT: (d) => `+3706${d(7)}`, NG: (d) => `+23480${d(8)}`, KE: (d) => `+2547${d(8)}`, PH: (d) => `+639${d(9)}`, ID: (d) => `+628${d(9)}`,
  BR: (d) => `+55119${d(8)}`, MX: (d) => `+5255${d(8)}`, IN: (d) => `+919${d(9)}`, PK: (d) => `+923${d(9)}`, EG: (d) => `+2010${d(8)}`,
  VN: (d) => `+849${d(8)}`, TH: (d) => `+668${d(8)}`, TR: (d) => `+905${d(9)}`, UA: (d) => `+38067${d(7)}`, RO: (d) => `+407${d(8)}`,
};
const ATTACKED = ['LT', 'NG', 'KE', 'PH', 'ID', 'BR', 'MX', 'IN', 'PK', 'EG', 'VN', 'TH', 'TR', 'UA', 'RO'];

/** The number's country if it is a valid mobile number (what otpd accepts for SMS), else null. */
export function mobileCountry(n) {
  const p = parsePhoneNumberFromString(n);
  const t = p?.getType();
  return p && (t === 'MOBILE' || t === 'FIXED_LINE_OR_MOBILE') ? p.country ?? null : null;
}

export const ipOf = (a, b) => `10.${a & 255}.${(b >> 8) & 255}.${b & 255}`;

/**
 * Starts the scenarios over `T` seconds. `every(perSecond, from, to, fn)` runs `fn` that often between those
 * seconds; `attempt(name, kind, to, body, headers, verify)` is one start (a legitimate user who verifies types the
 * code); `random()` is in [0, 1). Returns what the `every` calls return.
 */
export function scenarios(T, { every, attempt, random }, { hidden = false } = {}) {
  const rnd = (n) => Math.floor(random() * n);
  const digits = (n) => Array.from({ length: n }, () => rnd(10)).join('');
  const number = (country) => { for (;;) { const n = MOBILE[country](digits, rnd); if (mobileCountry(n)) return n; } };
  function* sequential(prefix) {
    for (let i = 0; i < 1000; i++) { const n = `${prefix}${String(i).padStart(3, '0')}`; if (mobileCountry(n)) yield n; }
  }
  let userIp = 0;
  let rot = 0;
  const legit = (name, country, from, to, perSecond, ip) => every(perSecond, from, to, () =>
    attempt(name, 'legit', number(country()), { ip: ip ?? ipOf(20 + rnd(200), userIp++) }, {}, random() < 0.9));
  const seq = (name, prefix, req) => { const g = sequential(prefix); return every(10, 0.2 * T, T, () => { const n = g.next(); return n.done ? undefined : req(n.value); }); };
  return [
    legit('legit FR', () => 'FR', 0, T, 1.0), legit('legit DE', () => 'DE', 0, T, 0.6), legit('legit GB', () => 'GB', 0, T, 0.6),
    legit('legit ES', () => 'ES', 0, T, 0.4), legit('legit IT', () => 'IT', 0, T, 0.4),
    legit('legit FR spike x10', () => 'FR', 0.5 * T, 0.7 * T, 10),
    legit('legit shared address', () => (random() < 0.5 ? 'FR' : 'DE'), 0.3 * T, T, 1, '100.64.0.1'),
    seq('attack: sequential prefix', '+447911123', (to) => attempt('attack: sequential prefix', 'attack', to, { ip: ipOf(250, rnd(50)) })),
    seq('attack: sequential, rotating ip signal', '+447911124', (to) => attempt('attack: sequential, rotating ip signal', 'attack', to, { ip: ipOf(251, rot++) })),
    seq('attack: sequential, spoofed X-Forwarded-For', '+447911125', (to) =>
      attempt('attack: sequential, spoofed X-Forwarded-For', 'attack', to, {}, { 'x-forwarded-for': `${ipOf(252, rot++)}, 198.51.100.66` })),
    every(2, 0.2 * T, T, () => attempt('attack: many countries from one address', 'attack', number(ATTACKED[rnd(ATTACKED.length)]), { ip: '203.0.113.66' })),
    every(1 / 3, 0, T, () => attempt('attack: slow, never converts (KE)', 'attack', number('KE'), { ip: ipOf(253, rot++) })),
    // Optional: a range of 100,000 numbers (100 prefixes) in a country with traffic, random numbers in it, from
    // rotating addresses, one a second.
    ...(hidden ? [every(1, 0.2 * T, T, () => attempt('attack: a number range in a busy country (DE)', 'attack', `+49151234${digits(5)}`, { ip: ipOf(254, rot++) }))] : []),
  ];
}

/** The figures of a run: per scenario, and the targets of issue 15 (attacks stopped, worst leak, legitimate refused). */
export function results(rows) {
  const attacks = rows.filter((r) => r.kind === 'attack');
  const legits = rows.filter((r) => r.kind === 'legit');
  const sum = (xs, f) => xs.reduce((t, x) => t + f(x), 0);
  const attackAttempts = sum(attacks, (r) => r.attempts);
  const attackLeaked = sum(attacks, (r) => r.reachedProvider);
  const legitAttempts = sum(legits, (r) => r.attempts);
  const legitRefused = sum(legits, (r) => r.attempts - r.accepted);
  return {
    attacks: { attempts: attackAttempts, leaked: attackLeaked, stoppedPct: +(100 * (1 - attackLeaked / Math.max(1, attackAttempts))).toFixed(2), worstLeak: Math.max(...attacks.map((r) => r.reachedProvider)) },
    legit: { attempts: legitAttempts, refused: legitRefused, refusedPct: +(100 * legitRefused / Math.max(1, legitAttempts)).toFixed(3) },
  };
}

/** The run as a markdown table and two lines of totals. */
export function report(rows, out) {
  const lines = ['| scenario | starts | reached the provider | refused (codes) |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.name} | ${r.attempts} | ${r.reachedProvider} | ${Object.entries(r.refused).map(([k, v]) => `${k} ${v}`).join(', ') || '0'} |`);
  lines.push('', `attacks: ${out.attacks.attempts} starts, ${out.attacks.leaked} reached the provider (${out.attacks.stoppedPct} % stopped), worst ${out.attacks.worstLeak} leaked in one attack`);
  lines.push(`legitimate: ${out.legit.attempts} starts, ${out.legit.refused} refused (${out.legit.refusedPct} %)`);
  return lines.join('\n');
}
