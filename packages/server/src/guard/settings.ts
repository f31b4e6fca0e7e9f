/**
 * An app's guard settings (stored in the app's settings as `guard`), their validation, and the form the guard runs
 * on: the rules of the level with the app's overrides, the allow lists as matchers, the spend caps.
 */
import ipaddr from 'ipaddr.js';
import { applyOverrides, bad, LEVELS, MODES, rulesForLevel, type GuardLevel, type GuardMode, type Rule } from './rules.js';

export interface GuardSettings {
  /** `enforce` (default): refuse; `shadow`: decide and record, never refuse; `off`: no rule runs. */
  mode?: GuardMode;
  /** How strict the built-in rules are (default `standard`). */
  level?: GuardLevel;
  /** Per rule id: false (off), changed numbers, or a new rate rule. */
  rules?: Record<string, unknown>;
  /** Requests that no rule refuses: exact numbers, number prefixes (E.164, e.g. +3247), addresses or CIDR ranges. */
  allow?: { numbers?: string[]; prefixes?: string[]; ips?: string[] };
  /** Most an app may spend (in its price table's currency) per UTC day and per UTC month; none by default. */
  spendCap?: { daily?: number; monthly?: number };
}

/** The settings as the guard runs them. */
export interface CompiledGuard {
  mode: GuardMode;
  level: GuardLevel;
  rules: Rule[];
  allowed(to: string | null, ip: string | null): boolean;
  caps: { daily: number | null; monthly: number | null };
}

const E164 = /^\+[1-9]\d{5,14}$/;
const PREFIX = /^\+[1-9]\d{0,14}$/;

function list(v: unknown, pointer: string, max = 1000): string[] {
  if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === 'string')) throw bad(pointer, `must be a list of at most ${max} strings`);
  return v as string[];
}

/** A CIDR range or single address as a range (`203.0.113.7` is `/32`, an IPv6 address `/128`). */
function parseRange(s: string, pointer: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  try {
    if (s.includes('/')) return ipaddr.parseCIDR(s);
    const ip = ipaddr.parse(s);
    return [ip, ip.kind() === 'ipv4' ? 32 : 128];
  } catch {
    throw bad(pointer, `: ${JSON.stringify(s)} is not an IP address or CIDR range`);
  }
}

/** Validates guard settings (throws `invalid_request` naming the field) and returns them normalised. */
export function validateGuardSettings(g: unknown, where = '/settings/guard'): GuardSettings {
  if (!g || typeof g !== 'object' || Array.isArray(g)) throw bad(where, 'must be an object');
  const s = g as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!['mode', 'level', 'rules', 'allow', 'spendCap'].includes(k)) throw bad(`${where}/${k}`, 'is not a guard setting (mode, level, rules, allow, spendCap)');
  const out: GuardSettings = {};
  if (s.mode !== undefined) {
    if (!MODES.includes(s.mode as GuardMode)) throw bad(`${where}/mode`, `must be one of ${MODES.join(', ')}`);
    out.mode = s.mode as GuardMode;
  }
  if (s.level !== undefined) {
    if (!LEVELS.includes(s.level as GuardLevel)) throw bad(`${where}/level`, `must be one of ${LEVELS.join(', ')}`);
    out.level = s.level as GuardLevel;
  }
  if (s.rules !== undefined) {
    applyOverrides(rulesForLevel(out.level ?? 'standard'), s.rules as Record<string, unknown>, `${where}/rules`);
    out.rules = s.rules as Record<string, unknown>;
  }
  if (s.allow !== undefined) {
    const a = s.allow as Record<string, unknown>;
    if (!a || typeof a !== 'object' || Array.isArray(a)) throw bad(`${where}/allow`, 'must be an object with numbers, prefixes, ips');
    for (const k of Object.keys(a)) if (!['numbers', 'prefixes', 'ips'].includes(k)) throw bad(`${where}/allow/${k}`, 'is not an allow list (numbers, prefixes, ips)');
    const allow: NonNullable<GuardSettings['allow']> = {};
    if (a.numbers !== undefined) {
      allow.numbers = list(a.numbers, `${where}/allow/numbers`).map((n) => n.trim());
      for (const n of allow.numbers) if (!E164.test(n)) throw bad(`${where}/allow/numbers`, `: ${JSON.stringify(n)} is not an E.164 number`);
    }
    if (a.prefixes !== undefined) {
      allow.prefixes = list(a.prefixes, `${where}/allow/prefixes`).map((n) => n.trim());
      for (const n of allow.prefixes) if (!PREFIX.test(n)) throw bad(`${where}/allow/prefixes`, `: ${JSON.stringify(n)} is not a number prefix such as +3247`);
    }
    if (a.ips !== undefined) {
      allow.ips = list(a.ips, `${where}/allow/ips`).map((n) => n.trim());
      for (const n of allow.ips) parseRange(n, `${where}/allow/ips`);
    }
    out.allow = allow;
  }
  if (s.spendCap !== undefined) {
    const c = s.spendCap as Record<string, unknown>;
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw bad(`${where}/spendCap`, 'must be an object with daily and/or monthly');
    const cap: NonNullable<GuardSettings['spendCap']> = {};
    for (const k of Object.keys(c)) {
      if (k !== 'daily' && k !== 'monthly') throw bad(`${where}/spendCap/${k}`, 'is not a cap (daily, monthly)');
      const v = c[k];
      if (typeof v !== 'number' || !(v > 0) || v > 1e9) throw bad(`${where}/spendCap/${k}`, 'must be a positive amount');
      cap[k] = v;
    }
    out.spendCap = cap;
  }
  return out;
}

/** The settings compiled once per app version (the service caches the result). */
export function compileGuard(s: GuardSettings | undefined, globalRules: readonly Rule[]): CompiledGuard {
  const level = s?.level ?? 'standard';
  const rules = [...applyOverrides(rulesForLevel(level), s?.rules), ...globalRules];
  const numbers = new Set(s?.allow?.numbers ?? []);
  const prefixes = s?.allow?.prefixes ?? [];
  const ranges = (s?.allow?.ips ?? []).map((r) => parseRange(r, '/settings/guard/allow/ips'));
  const inRange = (ip: string): boolean => {
    let a: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      a = ipaddr.process(ip);
    } catch {
      return false;
    }
    return ranges.some(([net, bits]) => net.kind() === a.kind() && a.match(net as never, bits));
  };
  return {
    mode: s?.mode ?? 'enforce',
    level,
    rules,
    allowed: (to, ip) => (to !== null && (numbers.has(to) || prefixes.some((p) => to.startsWith(p)))) || (ip !== null && ranges.length > 0 && inRange(ip)),
    caps: { daily: s?.spendCap?.daily ?? null, monthly: s?.spendCap?.monthly ?? null },
  };
}
