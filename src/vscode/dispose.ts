/**
 * Ownership of disposables: every listener, watcher and emitter is registered with exactly one owner,
 * which disposes them in reverse order. No `vscode` import, so pure modules (the tree model) use it too.
 */
export interface IDisposable {
  dispose(): unknown;
}

export function disposeAll(disposables: IDisposable[]): void {
  const errors: unknown[] = [];
  while (disposables.length) {
    const d = disposables.pop();
    try {
      d?.dispose();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'Several disposables failed to dispose');
}

export function toDisposable(dispose: () => void): IDisposable {
  return { dispose };
}

export abstract class Disposable implements IDisposable {
  #disposed = false;
  readonly #owned: IDisposable[] = [];

  protected get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Takes ownership of `d`; disposes it at once when this object is already disposed. */
  protected _register<T extends IDisposable>(d: T): T {
    if (this.#disposed) d.dispose();
    else this.#owned.push(d);
    return d;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    disposeAll(this.#owned);
  }
}

/** A minimal typed event emitter for the vscode-free modules (same shape as `vscode.Event`). */
export class Emitter<T> implements IDisposable {
  readonly #listeners = new Set<(e: T) => void>();

  readonly event = (listener: (e: T) => void): IDisposable => {
    this.#listeners.add(listener);
    return toDisposable(() => this.#listeners.delete(listener));
  };

  fire(e: T): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch (err) {
        console.error('event listener failed', err);
      }
    }
  }

  dispose(): void {
    this.#listeners.clear();
  }
}
