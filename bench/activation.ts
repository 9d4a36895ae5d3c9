/**
 * Extension activation outside the host (#15: under 100 ms): a fresh Node process loads dist/extension.js
 * (a stand-in `vscode` module answers every call) and calls activate(), as the extension host does; then,
 * apart, what the first use of the workbench pays for requiring dist/workbench.js (off the activation path).
 * Medians of several processes. The real host adds its own work around these (the activation suite of
 * `npm run test:vscode` prints what it measured there); build first (`node esbuild.js`, or `--production`).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** dist/ of the repository (this file runs as dist-bench/bench/activation.js). */
const DIST = path.resolve(__dirname, '..', '..', 'dist');

/** Runs in the child: a `vscode` stand-in, then the timed require and activate(). Prints one JSON line. */
const CHILD = `
const Module = require('module');
const stub = () => new Proxy(function () {}, {
  get: (_t, k) => (k === 'then' ? undefined : k === Symbol.toPrimitive ? () => '' : stub()),
  apply: () => stub(),
  construct: () => stub(),
});
// a bundle copies the module's own properties (esbuild's __toESM): name the API namespaces and classes it uses
const vscode = {};
for (const k of ['window', 'commands', 'workspace', 'env', 'extensions', 'languages', 'l10n', 'EventEmitter', 'Disposable', 'Uri', 'TreeItem', 'TreeItemCollapsibleState', 'ThemeIcon', 'ThemeColor', 'MarkdownString', 'ProgressLocation', 'RelativePattern', 'StatusBarAlignment', 'TabInputCustom', 'TabInputText', 'ViewColumn', 'ConfigurationTarget']) vscode[k] = stub();
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? vscode : load.call(this, request, ...rest); };
const dist = process.argv[1];
const t0 = performance.now();
const ext = require(dist + '/extension.js');
const t1 = performance.now();
const context = { subscriptions: [], extension: { packageJSON: require(dist + '/../package.json') }, extensionPath: dist + '/..', extensionUri: stub(), secrets: stub(), workspaceState: stub() };
ext.activate(context);
const t2 = performance.now();
require(dist + '/workbench.js');
const t3 = performance.now();
process.stdout.write(JSON.stringify({ loadMs: t1 - t0, activateMs: t2 - t1, workbenchMs: t3 - t2 }) + '\\n');
process.exit(0);
`;

export interface ActivationBench {
  loadMs: number;
  activateMs: number;
  workbenchMs: number;
  extensionBytes: number;
  workbenchBytes: number;
}

function once(): Promise<{ loadMs: number; activateMs: number; workbenchMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, DIST], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { loadMs: number; activateMs: number; workbenchMs: number }) : reject(new Error(`activation bench child exited with ${code}`))));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runActivationBench(runs = 7): Promise<ActivationBench> {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  return {
    loadMs: median(samples.map((s) => s.loadMs)),
    activateMs: median(samples.map((s) => s.activateMs)),
    workbenchMs: median(samples.map((s) => s.workbenchMs)),
    extensionBytes: fs.statSync(path.join(DIST, 'extension.js')).size,
    workbenchBytes: fs.statSync(path.join(DIST, 'workbench.js')).size,
  };
}

export function printActivationBench(r: ActivationBench): void {
  const total = r.loadMs + r.activateMs;
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
  console.log(
    `activation: load dist/extension.js (${kb(r.extensionBytes)}) ${r.loadMs.toFixed(1)} ms + activate() ${r.activateMs.toFixed(1)} ms = ${total.toFixed(1)} ms (target < 100 ms) ${total < 100 ? 'PASS' : 'FAIL'}`,
  );
  console.log(`first use: require dist/workbench.js (${kb(r.workbenchBytes)}) ${r.workbenchMs.toFixed(0)} ms, after activation`);
}
