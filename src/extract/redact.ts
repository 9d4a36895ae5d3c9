/** Keeps secrets out of messages and logs: the API key, OpenAI-style keys, bearer tokens, passwords in URLs. */

/** Removes the API key (and anything that looks like an OpenAI key or a bearer token) from a text. */
export function redactSecrets(text: string, apiKey?: string): string {
  let out = text;
  if (apiKey && apiKey.length >= 4) out = out.split(apiKey).join('[redacted]');
  out = out.replace(/\bsk-[A-Za-z0-9_*.-]{6,}/g, 'sk-[redacted]');
  out = out.replace(/\b(Bearer\s+)[^\s"']+/gi, '$1[redacted]');
  out = out.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\/\s@]+@/gi, '$1'); // user:password@ in URLs
  return out;
}
