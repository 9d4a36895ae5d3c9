/**
 * Secrets live in SecretStorage only: never in settings, never in logs. The API key of the provider, and
 * the password of the state database (`extractionWorkbench.stateUrl` names the database without it).
 */
import * as vscode from 'vscode';
import { isLoopback, LOCAL_PLACEHOLDER_KEY } from '../app/endpoint';

const API_KEY_SECRET = 'extractionWorkbench.apiKey';
const STATE_PASSWORD_SECRET = 'extractionWorkbench.statePassword';

/** Thrown when a run needs a key and none is set; the UI offers "Set API Key". */
export class MissingApiKeyError extends Error {
  override readonly name = 'MissingApiKeyError';
  constructor(readonly baseURL: string) {
    super(`No API key is set for ${baseURL}. Set one with "Extraction Workbench: Set API Key".`);
  }
}

/** One value in the editor's secret storage, and an event when it changes (in this window or another). */
export class StoredSecret {
  readonly #secrets: vscode.SecretStorage;
  readonly #key: string;
  readonly onDidChange: vscode.Event<void>;

  constructor(secrets: vscode.SecretStorage, key: string) {
    this.#secrets = secrets;
    this.#key = key;
    this.onDidChange = (listener, thisArg, disposables) =>
      secrets.onDidChange((e) => {
        if (e.key === key) listener.call(thisArg);
      }, undefined, disposables);
  }

  async get(): Promise<string | undefined> {
    const v = await this.#secrets.get(this.#key);
    return v && v.trim() ? v : undefined;
  }

  async set(value: string): Promise<void> {
    await this.#secrets.store(this.#key, value.trim());
  }

  async clear(): Promise<void> {
    await this.#secrets.delete(this.#key);
  }
}

export class ApiKeyStore extends StoredSecret {
  constructor(secrets: vscode.SecretStorage) {
    super(secrets, API_KEY_SECRET);
  }

  /**
   * The key to use for `baseURL`: the stored one, else `OPENAI_API_KEY` of the extension host's environment
   * (as the CLI does), else a placeholder for loopback servers, else MissingApiKeyError.
   */
  async resolve(baseURL: string): Promise<string> {
    const key = (await this.get()) || process.env.OPENAI_API_KEY;
    if (key) return key;
    if (isLoopback(baseURL)) return LOCAL_PLACEHOLDER_KEY;
    throw new MissingApiKeyError(baseURL);
  }
}

/**
 * The password of the state database (the user of `extractionWorkbench.stateUrl`). None stored: the
 * connection goes without one, and `pg` falls back to PGPASSWORD or ~/.pgpass of the extension host, as
 * the CLI does.
 */
export class StatePasswordStore extends StoredSecret {
  constructor(secrets: vscode.SecretStorage) {
    super(secrets, STATE_PASSWORD_SECRET);
  }
}
