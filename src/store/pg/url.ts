/**
 * State URLs: `postgres://user@host:port/db` (or `postgresql://`) names a PostgreSQL database that holds a
 * folder's checkpoint state instead of a state folder. The password never goes into settings or messages:
 * it comes from the URL given at run time, PGPASSWORD or ~/.pgpass (libpq's rules, which `pg` follows for
 * PGPASSWORD), or the window's secret storage.
 */

/** Whether a `--state` value is a database URL rather than a folder. */
export function isStateUrl(value: string | undefined): value is string {
  return !!value && /^postgres(ql)?:\/\//i.test(value.trim());
}

/** The URL without its password (for settings, logs and messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  }
}

/** `url` with `password` set (when it has none of its own). */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const u = new URL(url);
  if (!u.password) u.password = password;
  return u.toString();
}

/** Checks a state URL: a clear message when it cannot be one. */
export function checkStateUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`Not a valid database URL: ${redactUrl(url)} (expected postgres://user@host:port/database)`);
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error(`Unsupported state URL scheme "${u.protocol}" (expected postgres://)`);
  if (!u.hostname) throw new Error(`The state URL ${redactUrl(url)} names no host (expected postgres://user@host:port/database)`);
  return u;
}
