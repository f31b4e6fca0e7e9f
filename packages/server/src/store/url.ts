/** The database URL as it may be logged: no password, no query string. */
export function redactDatabaseUrl(url: string): string {
  const bare = url.split('?')[0]!;
  return bare.replace(/^(postgres(?:ql)?:\/\/[^:/@]+):[^@]*@/, '$1:***@');
}
