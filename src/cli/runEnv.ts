/**
 * The flags of `run` and `estimate`, and their environment variables: every flag `--some-flag` can also be
 * set as `EXTRACTION_SOME_FLAG` (upper case, `-` → `_`). A flag on the command line wins over its variable;
 * a variable acts exactly as its flag would (same checks, same precedence over the job's fields), and an
 * error about it names the variable. Lists (`--include`, `--exclude`) are separated by `;` (globs use
 * commas in braces); switches take 1/0, true/false, yes/no or on/off. Empty variables are ignored.
 */
import { parseArgs } from 'node:util';

export const RUN_OPTIONS = {
  schema: { type: 'string' },
  job: { type: 'string' },
  out: { type: 'string' },
  state: { type: 'string' },
  'base-url': { type: 'string' },
  model: { type: 'string' },
  concurrency: { type: 'string' },
  'max-attempts': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'max-file-size-mb': { type: 'string' },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  instructions: { type: 'string' },
  budget: { type: 'string' },
  mode: { type: 'string' },
  'context-tokens': { type: 'string' },
  'max-output-tokens': { type: 'string' },
  'max-output-tokens-cap': { type: 'string' },
  'max-tokens-param': { type: 'string' },
  'requests-per-minute': { type: 'string' },
  'tokens-per-minute': { type: 'string' },
  'max-reasks': { type: 'string' },
  'examples-max': { type: 'string' },
  price: { type: 'string' },
  'pdf-max-pages': { type: 'string' },
  'pdf-timeout-seconds': { type: 'string' },
  'pdf-max-memory-mb': { type: 'string' },
  'pdf-workers': { type: 'string' },
  input: { type: 'string' },
  ocr: { type: 'string' },
  'ocr-languages': { type: 'string' },
  'ocr-timeout-seconds': { type: 'string' },
  'ocr-workers': { type: 'string' },
  'ocr-data-dir': { type: 'string' },
  'max-outage-minutes': { type: 'string' },
  'retry-base-seconds': { type: 'string' },
  'retry-max-seconds': { type: 'string' },
  'retry-jitter': { type: 'string' },
  'log-requests': { type: 'boolean', default: false },
  'history-retention-runs': { type: 'string' },
  'history-retention-days': { type: 'string' },
  'lease-seconds': { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', short: 'v', default: false },
} as const;

type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

export const ENV_PREFIX = 'EXTRACTION_';

/** `--max-attempts` → `EXTRACTION_MAX_ATTEMPTS`. */
export function envNameOf(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_');
}

export const ENV_HELP = `Every flag of run and estimate can also be set as an environment variable: EXTRACTION_ and the flag's name
in upper case with - as _ (--max-attempts 3 → EXTRACTION_MAX_ATTEMPTS=3). A flag given wins over its variable;
lists (--include, --exclude) are separated by ';'; switches (--json, --log-requests, --verbose) take 1/0,
true/false, yes/no or on/off.`;

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

export interface ArgvWithEnv {
  argv: string[];
  /** Flag name → the variable that set it. */
  fromEnv: Map<string, string>;
}

/**
 * `argv` with the flags it leaves out taken from `EXTRACTION_*` variables. Throws `usageError` for a
 * switch variable that is not a yes/no value (the variable named).
 */
export function argvWithEnv(argv: readonly string[], env: NodeJS.ProcessEnv, usageError: (m: string) => Error, options: Options = RUN_OPTIONS): ArgvWithEnv {
  const given = new Set(
    parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true })
      .tokens.filter((t) => t.kind === 'option')
      .map((t) => (t as { name: string }).name),
  );
  const out = [...argv];
  const fromEnv = new Map<string, string>();
  for (const [flag, spec] of Object.entries(options)) {
    const name = envNameOf(flag);
    const raw = env[name];
    if (given.has(flag) || raw === undefined || raw.trim() === '') continue;
    fromEnv.set(flag, name);
    if (spec.type === 'boolean') {
      const v = raw.trim().toLowerCase();
      if (TRUE.has(v)) out.push(`--${flag}`);
      else if (!FALSE.has(v)) throw usageError(`${name} "${raw}": expected 1/0, true/false, yes/no or on/off (it sets --${flag})`);
    } else if (spec.multiple) {
      for (const part of raw.split(';').map((p) => p.trim()).filter(Boolean)) out.push(`--${flag}=${part}`);
    } else {
      out.push(`--${flag}=${raw}`);
    }
  }
  return { argv: out, fromEnv };
}

/** Names the variables behind the flags an error message is about (`--concurrency …`, `--retry-*: …`). */
export function withEnvNames(message: string, fromEnv: ReadonlyMap<string, string>): string {
  const flags = new Set<string>();
  for (const m of message.matchAll(/--([a-z][a-z0-9-]*)(\*)?/g)) {
    for (const flag of fromEnv.keys()) if (m[2] ? flag.startsWith(m[1]) : flag === m[1]) flags.add(flag);
  }
  if (!flags.size) return message;
  return `${message} (set by ${[...flags].map((f) => fromEnv.get(f)).join(', ')})`;
}
