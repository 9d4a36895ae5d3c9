/** Helpers shared by the webview pages (review, dashboard): CSP nonces and attribute escaping. */
import { randomBytes } from 'node:crypto';

/** A fresh nonce per page load, from a CSPRNG. */
export function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

/** Escapes a value for a double-quoted HTML attribute. */
export function attr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
