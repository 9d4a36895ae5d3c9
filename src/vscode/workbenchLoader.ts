/**
 * Loads the workbench (dist/workbench.js, src/vscode/workbench.ts) once, off the activation path (issue #15):
 * `get()` loads it at once where something needs it now (a command, the Documents view asking for its
 * elements, a test reading the API); `loadSoon()` loads it on a later turn of the event loop, after
 * activate() has returned. No `vscode` import: the first-load bundle stays small.
 */
export class WorkbenchLoader<W> {
  #workbench: W | undefined;
  #failure: { error: unknown } | undefined;
  #loading = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolve!: (w: W) => void;
  #reject!: (err: unknown) => void;
  /** Settles once the workbench is loaded, or could not be. */
  readonly ready: Promise<W>;

  /**
   * @param open requires the bundle and wires the workbench
   * @param onLoaded told how long loading took (ms), or why it failed
   */
  constructor(
    private readonly open: () => W,
    private readonly onLoaded: (outcome: { ms: number } | { error: unknown }) => void,
  ) {
    this.ready = new Promise<W>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ready.catch(() => undefined); // a failure is reported by onLoaded and by each get()
  }

  /** Whether the workbench is loaded (without loading it). */
  get loaded(): W | undefined {
    return this.#workbench;
  }

  /** The workbench, loaded now if it is not yet; throws what loading it threw. */
  get(): W {
    if (this.#workbench) return this.#workbench;
    if (this.#failure) throw this.#failure.error;
    if (this.#loading) throw new Error('The Extraction Workbench is still loading (a command ran while it was being set up)');
    this.#loading = true;
    clearTimeout(this.#timer);
    const start = performance.now();
    try {
      this.#workbench = this.open();
    } catch (error) {
      this.#failure = { error };
      this.onLoaded({ error });
      this.#reject(error);
      throw error;
    } finally {
      this.#loading = false;
    }
    this.onLoaded({ ms: performance.now() - start });
    this.#resolve(this.#workbench);
    return this.#workbench;
  }

  /** Loads the workbench on a later turn of the event loop (a failure goes to onLoaded). */
  loadSoon(): void {
    if (this.#workbench || this.#failure || this.#timer) return;
    this.#timer = setTimeout(() => {
      try {
        this.get();
      } catch {
        // reported by onLoaded
      }
    }, 0);
  }

  /** Cancels a pending loadSoon (deactivation). */
  dispose(): void {
    clearTimeout(this.#timer);
  }
}
