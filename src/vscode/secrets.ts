/** The API key lives in SecretStorage only: never in settings, never in logs. */
import * as vscode from 'vscode';
import { isLoopback, LOCAL_PLACEHOLDER_KEY } from '../app/endpoint';

const SECRET_KEY = 'extractionWorkbench.apiKey';

/** Thrown when a run needs a key and none is set; the UI offers "Set API Key". */
export class MissingApiKeyError extends Error {
  override readonly name = 'MissingApiKeyError';
  constructor(readonly baseURL: string) {
    super(`No API key is set for ${baseURL}. Set one with "Extraction Workbench: Set API Key".`);
  }
}

export class ApiKeyStore {
  readonly #secrets: vscode.SecretStorage;
  readonly onDidChange: vscode.Event<void>;

  constructor(secrets: vscode.SecretStorage) {
    this.#secrets = secrets;
    this.onDidChange = (listener, thisArg, disposables) =>
      secrets.onDidChange((e) => {
        if (e.key === SECRET_KEY) listener.call(thisArg);
      }, undefined, disposables);
  }

  async get(): Promise<string | undefined> {
    const v = await this.#secrets.get(SECRET_KEY);
    return v && v.trim() ? v : undefined;
  }

  async set(key: string): Promise<void> {
    await this.#secrets.store(SECRET_KEY, key.trim());
  }

  async clear(): Promise<void> {
    await this.#secrets.delete(SECRET_KEY);
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
