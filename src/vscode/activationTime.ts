/**
 * How long the extension takes to start in the host (issue #15: under 100 ms): from the first statement of
 * dist/extension.js (a banner esbuild puts there records `performance.now()`) to the end of `activate()`.
 * Logged at activation and returned by the API; the activation suite prints it.
 */
export interface ActivationTime {
  /** Loading and evaluating the bundle, up to the call of activate(). */
  loadMs: number;
  /** activate() itself: services, views, commands (stores open afterwards, in the background). */
  activateMs: number;
}

const LOAD_START = Symbol.for('extractionWorkbench.loadStart');

/** Starts timing activate(); the returned function gives the figures when it ends. */
export function timeActivation(): () => ActivationTime {
  const start = performance.now();
  const loadStart = (globalThis as Record<symbol, unknown>)[LOAD_START];
  const loadMs = typeof loadStart === 'number' ? start - loadStart : NaN;
  return () => ({ loadMs, activateMs: performance.now() - start });
}

export function describeActivation(t: ActivationTime): string {
  const load = Number.isFinite(t.loadMs) ? `${t.loadMs.toFixed(0)} ms loading + ` : '';
  return `Activated in ${(load ? t.loadMs + t.activateMs : t.activateMs).toFixed(0)} ms (${load}${t.activateMs.toFixed(0)} ms activate)`;
}
