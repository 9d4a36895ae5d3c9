/**
 * String `format`s: the loose checks the validator applies to values (catch values that are clearly
 * something else, accept common spellings), and the hints the strict schema gives the model.
 */
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function validDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  return d <= days;
}

/** Loose format checks: catch values that are clearly something else, accept common spellings. */
export const FORMAT_CHECKS: Record<string, { test: (s: string) => boolean; expected: string }> = {
  date: { test: validDate, expected: 'a date (YYYY-MM-DD)' },
  'date-time': {
    test: (s) => {
      const m = /^(\d{4}-\d{2}-\d{2})[T ](.+)$/i.exec(s);
      return !!m && validDate(m[1]) && TIME_RE.test(m[2]);
    },
    expected: 'a date-time (ISO 8601, e.g. 2024-05-31T14:30:00Z)',
  },
  time: { test: (s) => TIME_RE.test(s), expected: 'a time (HH:MM[:SS])' },
  email: { test: (s) => EMAIL_RE.test(s), expected: 'an e-mail address' },
  uri: { test: (s) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(s), expected: 'an absolute URI' },
  url: { test: (s) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(s), expected: 'an absolute URL' },
  uuid: { test: (s) => UUID_RE.test(s), expected: 'a UUID' },
};

export const FORMAT_HINTS: Record<string, string> = {
  date: 'YYYY-MM-DD',
  'date-time': 'ISO 8601, e.g. 2024-05-31T14:30:00Z',
  time: 'HH:MM:SS',
  email: 'an e-mail address',
  uri: 'an absolute URI',
  uuid: 'a UUID',
};
