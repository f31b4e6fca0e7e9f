/** The database URL as it may be logged: no password, no query string. */
export function redactDatabaseUrl(url: string): string {
  const bare = url.split('?')[0]!;
  return bare.replace(/^(postgres(?:ql)?:\/\/[^:/@]+):[^@]*@/, '$1:***@');
}

/** `postgres://…` or `postgresql://…`. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}
