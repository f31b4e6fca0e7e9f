import { describe, expect, it } from 'vitest';
import { redactDatabaseUrl } from './url.js';

describe('redactDatabaseUrl', () => {
  it('hides the password and the query string, keeps the rest', () => {
    expect(redactDatabaseUrl('postgres://otpd:s3cr%40t@db.internal:5432/otpd?sslmode=require')).toBe('postgres://otpd:***@db.internal:5432/otpd');
    expect(redactDatabaseUrl('postgresql://u:p@h/d')).toBe('postgresql://u:***@h/d');
    expect(redactDatabaseUrl('postgres://db/otpd')).toBe('postgres://db/otpd');
    expect(redactDatabaseUrl('sqlite:./data/otpd.sqlite')).toBe('sqlite:./data/otpd.sqlite');
  });
});
