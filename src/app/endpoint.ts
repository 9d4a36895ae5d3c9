/** Rules about model endpoints shared by the CLI and the extension. */

/** True for 127.0.0.0/8, localhost and ::1: local servers (Ollama, LM Studio, llama.cpp…) that ignore API keys. */
export function isLoopback(url: string): boolean {
  try {
    const h = new URL(url).hostname;
    return h === 'localhost' || h === '::1' || h === '[::1]' || h.startsWith('127.');
  } catch {
    return false;
  }
}

/** Key sent to loopback servers when the user has set none. */
export const LOCAL_PLACEHOLDER_KEY = 'not-needed';
