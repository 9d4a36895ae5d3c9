#!/usr/bin/env node
'use strict';
/**
 * `npm start`: try the extension in a real VS Code in your browser, without installing anything
 * globally. Builds the extension, installs code-server 4.100.3 (VS Code 1.100.3) into .vscode-test/
 * if needed, and serves a workbench with samples/invoices open and this repo installed as the
 * extension (a symlink in a fresh extensions dir, so it runs what `node esbuild.js` / `npm run watch`
 * last built: after a rebuild, run "Developer: Reload Window" in the browser).
 *
 *   npm start                         then open the printed http://127.0.0.1:PORT/?folder=... URL
 *   npm start -- --port 9000          fixed port (default: 8765, or a free one if that is taken)
 *   npm start -- --workspace DIR      open another folder (default: samples/invoices, used in place)
 *   npm start -- --fresh              forget the saved profile (settings, secrets such as API keys)
 *   npm start -- --no-build           skip `node esbuild.js`
 *   npm start -- --no-sample-replies  never start the offline "sample replies" endpoint
 *
 * System packages code-server needs (ripgrep, build-essential, python3) are installed first when missing (as
 * root or with passwordless sudo, see scripts/system-packages.js); otherwise it stops with the exact command.
 *
 * Model: without a model endpoint, `npm start` also starts the offline "sample replies" endpoint
 * (scripts/sample-replies.js: canned answers from samples/sample-replies.json, ONLY for the documents
 * in samples/invoices) on a free 127.0.0.1 port and points the profile at it
 * (`extractionWorkbench.baseUrl` = its URL, `extractionWorkbench.model` = "sample-replies" in the
 * profile's user settings), so the whole flow can be seen offline. It is not started, and the real
 * model is used, when
 *   - OPENAI_API_KEY is set (OpenAI, or the endpoint the settings name; the extension itself keeps
 *     its key in secret storage and asks for it once: "Extraction Workbench: Set API Key"), or
 *   - the profile's user settings set `extractionWorkbench.baseUrl` to an endpoint of your own
 *     (OpenAI, Ollama, LM Studio, vLLM…) or `extractionWorkbench.model` to a model of your own, or
 *     the workspace's .vscode/settings.json sets `extractionWorkbench.baseUrl`, or
 *   - --no-sample-replies is given.
 * The URL written is remembered in .vscode-test/start/sample-replies.json: while the settings still hold
 * it (with model "sample-replies"), the next start replaces its stale port (reusing the port when it is
 * free), or removes both settings when the real model is used. An endpoint of your own, loopback ones
 * included, is never overridden.
 *
 * The profile (settings, secrets, state) lives in .vscode-test/start/user-data and survives restarts.
 * Runs until Ctrl-C, which stops code-server and the sample-replies endpoint. Listens on 127.0.0.1
 * only and without a password: do not expose the port.
 */
const fs = require('fs');
const path = require('path');
const { ensureCodeServer, startCodeServer, isPortFree, freePort } = require('../test/harness/code-server');
const { REPO_ROOT, EXTENSION_ID, esbuild, parseArgs } = require('../test/harness/project');
const { startSampleReplies, MODEL: SAMPLE_MODEL } = require('./sample-replies');
const { ensureSystemPackages } = require('./system-packages');

const DEFAULT_PORT = 8765;
/** The extension's defaults (src/app/session.ts), for the messages. */
const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
const DEFAULT_MODEL = 'gpt-4o-mini';
const BASE_URL_KEY = 'extractionWorkbench.baseUrl';
const MODEL_KEY = 'extractionWorkbench.model';
/** What this script writes for the sample-replies endpoint (any port). */
const SAMPLE_URL = /^http:\/\/127\.0\.0\.1:(\d+)\/v1$/;

/* ------------------------------------------------------------------------------------------------ */
/* Profile settings                                                                                  */
/* ------------------------------------------------------------------------------------------------ */

/** JSON with comments and trailing commas (what VS Code accepts in settings.json) → JSON text. */
function stripJsonc(text) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else if (c === '}' || c === ']') {
      out = out.replace(/,(\s*)$/, '$1'); // trailing comma
      out += c;
    } else out += c;
  }
  return out;
}

/** A settings.json as an object: {} when missing or empty; throws when it cannot be read as JSON(C). */
function readSettings(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { settings: {}, strict: true };
  }
  if (!text.trim()) return { settings: {}, strict: true };
  let settings;
  let strict = true;
  try {
    settings = JSON.parse(text);
  } catch {
    strict = false; // comments or trailing commas
    try {
      settings = JSON.parse(stripJsonc(text));
    } catch (e) {
      throw new Error(`cannot read ${file}: ${e.message}. Fix or delete it (or start with --fresh).`);
    }
  }
  if (!settings || typeof settings !== 'object' || Array.isArray(settings)) throw new Error(`${file} does not hold a JSON object. Fix or delete it (or start with --fresh).`);
  return { settings, strict };
}

function writeSettings(file, settings) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(settings, null, 2) + '\n');
}

/**
 * The marker file remembers the sample-replies URL this script last wrote into the settings, so that a
 * loopback endpoint of the user's own (Ollama, LM Studio… on http://127.0.0.1:PORT/v1) is never taken
 * for a stale sample endpoint.
 */
function readMarker(file) {
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    return m && typeof m.baseUrl === 'string' ? m.baseUrl : undefined;
  } catch {
    return undefined;
  }
}

function writeMarker(file, baseUrl) {
  if (baseUrl === undefined) fs.rmSync(file, { force: true });
  else fs.writeFileSync(file, JSON.stringify({ baseUrl, model: SAMPLE_MODEL, note: 'written by scripts/start.js: the sample-replies endpoint it put into user-data/User/settings.json' }, null, 2) + '\n');
}

/** Whether the settings still point at the sample-replies endpoint this script wrote (`written`). */
function isSampleEndpoint(settings, written) {
  const url = settings[BASE_URL_KEY];
  return !!written && url === written && SAMPLE_URL.test(url) && settings[MODEL_KEY] === SAMPLE_MODEL;
}

function nonEmpty(v) {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * Which model the workbench will use. Returns `{ sample: true, previousPort? }` for the sample-replies
 * endpoint, else `{ sample: false, why, baseUrl, model, note? }` with the user settings to
 * write (`settings`, undefined when nothing changes).
 */
function chooseModel({ args, env, userSettings, workspaceSettings, written }) {
  const ours = isSampleEndpoint(userSettings, written);
  const userBaseUrl = ours ? undefined : nonEmpty(userSettings[BASE_URL_KEY]);
  const userModel = ours || userSettings[MODEL_KEY] === SAMPLE_MODEL ? undefined : nonEmpty(userSettings[MODEL_KEY]);
  const wsBaseUrl = nonEmpty(workspaceSettings[BASE_URL_KEY]);
  const wsModel = nonEmpty(workspaceSettings[MODEL_KEY]);

  let why;
  if (args['no-sample-replies']) why = '--no-sample-replies';
  else if (nonEmpty(env.OPENAI_API_KEY)) why = 'OPENAI_API_KEY is set';
  else if (wsBaseUrl) why = "extractionWorkbench.baseUrl in the workspace's .vscode/settings.json";
  else if (userBaseUrl) why = "extractionWorkbench.baseUrl in the profile's user settings";
  else if (userModel) why = "extractionWorkbench.model in the profile's user settings";

  if (!why) {
    const m = ours ? SAMPLE_URL.exec(userSettings[BASE_URL_KEY].trim()) : undefined;
    return { sample: true, previousPort: m ? Number(m[1]) : undefined };
  }
  // The real model: drop what an earlier start wrote for the sample endpoint (its port is gone).
  let settings;
  let note;
  if (ours) {
    settings = { ...userSettings };
    delete settings[BASE_URL_KEY];
    delete settings[MODEL_KEY];
  } else if (userSettings[MODEL_KEY] === SAMPLE_MODEL) {
    settings = { ...userSettings }; // a left-over model name next to an endpoint of the user's own
    delete settings[MODEL_KEY];
    note = `removed the left-over ${MODEL_KEY} "${SAMPLE_MODEL}": set it to a model that endpoint serves`;
  }
  const effective = settings ?? userSettings;
  return {
    sample: false,
    why,
    baseUrl: wsBaseUrl ?? nonEmpty(effective[BASE_URL_KEY]) ?? DEFAULT_BASE_URL,
    model: wsModel ?? nonEmpty(effective[MODEL_KEY]) ?? DEFAULT_MODEL,
    settings,
    note,
  };
}

/** Start the sample-replies endpoint, on `preferredPort` when it is free (settings stay unchanged). */
async function startSampleEndpoint(preferredPort) {
  const log = (line) => console.log(`[sample-replies] ${line}`);
  if (preferredPort) {
    try {
      return await startSampleReplies({ port: preferredPort, log });
    } catch (e) {
      if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') throw e;
    }
  }
  return startSampleReplies({ port: 0, log });
}

async function main() {
  const args = parseArgs(process.argv.slice(2), { flags: ['fresh', 'no-build', 'no-sample-replies', 'help'], options: ['port', 'workspace'] });
  if (args.help) {
    console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
    return;
  }
  const workspace = path.resolve(args.workspace || path.join(REPO_ROOT, 'samples', 'invoices'));
  if (!fs.existsSync(workspace)) throw new Error(`workspace ${workspace} does not exist`);

  ensureSystemPackages('start', { log: (line) => console.log(line) });
  if (!args['no-build']) {
    console.log('[start] building the extension (node esbuild.js)');
    esbuild();
  }
  ensureCodeServer();

  // Profile: user data persists; the extensions dir is recreated so it holds exactly this repo.
  const home = path.join(REPO_ROOT, '.vscode-test', 'start');
  const userDataDir = path.join(home, 'user-data');
  const extensionsDir = path.join(home, 'extensions');
  if (args.fresh) fs.rmSync(userDataDir, { recursive: true, force: true });
  fs.rmSync(extensionsDir, { recursive: true, force: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  fs.symlinkSync(REPO_ROOT, path.join(extensionsDir, `${EXTENSION_ID}-${version}`), 'dir');

  // Model: the sample-replies endpoint unless a real one is configured (see the header).
  const settingsFile = path.join(userDataDir, 'User', 'settings.json');
  const markerFile = path.join(home, 'sample-replies.json');
  if (args.fresh) writeMarker(markerFile, undefined);
  const { settings: userSettings, strict } = readSettings(settingsFile);
  let workspaceSettings = {};
  try {
    workspaceSettings = readSettings(path.join(workspace, '.vscode', 'settings.json')).settings;
  } catch {
    /* the workbench reports an unreadable workspace settings file itself */
  }
  const choice = chooseModel({ args, env: process.env, userSettings, workspaceSettings, written: readMarker(markerFile) });
  let sample;
  let modelLine;
  if (choice.sample) {
    sample = await startSampleEndpoint(choice.previousPort);
    const next = { ...userSettings, [BASE_URL_KEY]: sample.url, [MODEL_KEY]: SAMPLE_MODEL };
    if (!strict || userSettings[BASE_URL_KEY] !== sample.url || userSettings[MODEL_KEY] !== SAMPLE_MODEL) writeSettings(settingsFile, next);
    writeMarker(markerFile, sample.url);
    modelLine = `Model: offline sample replies at ${sample.url} (answers only for samples/invoices; set OPENAI_API_KEY or extractionWorkbench.baseUrl for a real model)`;
  } else {
    // (a settings file with comments is rewritten as plain JSON: code-server's seeding reads strict JSON)
    if (choice.settings || !strict) writeSettings(settingsFile, choice.settings ?? userSettings);
    writeMarker(markerFile, undefined);
    modelLine = `Model: real model ${choice.model} at ${choice.baseUrl} (${choice.why}; no sample replies)`;
    if (choice.note) modelLine += `\n  ${choice.note}`;
    if (choice.why === 'OPENAI_API_KEY is set') {
      modelLine += '\n  the extension keeps its API key in secret storage: if a run asks for one, use "Extraction Workbench: Set API Key"';
    }
  }
  console.log(`[start] ${modelLine}`);

  let port = Number(args.port || process.env.PORT || 0);
  if (!port) port = (await isPortFree(DEFAULT_PORT)) ? DEFAULT_PORT : await freePort();
  else if (!(await isPortFree(port))) throw new Error(`port ${port} is in use`);

  const server = await startCodeServer({ runDir: home, userDataDir, extensionsDir, workspace, port, handleSignals: false });
  const url = server.workbenchUrl({ folder: workspace });

  let stopping = false;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[start] ${why}: stopping code-server${sample ? ' and the sample-replies endpoint' : ''}`);
    await Promise.all([server.stop(), sample ? sample.close() : undefined]);
    process.exit(0);
  };
  process.on('SIGINT', () => stop('Ctrl-C'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  server.child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[start] code-server exited unexpectedly (code ${code}, signal ${signal}); log: ${server.logFile}`);
    process.exit(1);
  });

  console.log('');
  console.log(`Open ${url}`);
  console.log(`  ${modelLine}`);
  console.log(`  extension: ${REPO_ROOT} (rebuild with \`npm run watch\`, then "Developer: Reload Window")`);
  console.log(`  logs: ${server.logFile} (server), ${path.join(userDataDir, 'logs')} (extension host: */exthost1/remoteexthost.log)`);
  console.log('  Ctrl-C to stop');
}

main().catch((e) => {
  console.error(`[start] ${e && e.message ? e.message : e}`);
  process.exit(1);
});
