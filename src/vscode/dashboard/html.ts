/**
 * The run dashboard's HTML shell: a strict CSP (`default-src 'none'`, styles only from the extension's
 * webview folders, one script allowed by a per-load CSPRNG nonce), static markup only — every piece of data
 * is rendered later by the script with textContent / createElementNS.
 */
import * as vscode from 'vscode';
import { attr, makeNonce } from '../webviewHtml';


export function dashboardCsp(cspSource: string, nonce: string): string {
  return [`default-src 'none'`, `style-src ${cspSource}`, `img-src ${cspSource}`, `font-src ${cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
}

/** Folders the webview may load from: the bundled script and the stylesheet. Nothing of the workspace. */
export function dashboardResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media', 'dashboard')];
}

export function dashboardHtml(webview: vscode.Webview, extensionUri: vscode.Uri, nonce = makeNonce()): string {
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'dashboard.js')).toString();
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'dashboard', 'dashboard.css')).toString();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(dashboardCsp(webview.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(style)}">
<title>Run Dashboard</title>
</head>
<body>
<header>
  <h1>Run dashboard</h1>
  <div id="run-picker"></div>
  <div class="toolbar" role="group" aria-label="Export">
    <button type="button" id="export-csv" class="secondary">Export CSV…</button>
    <button type="button" id="export-json" class="secondary">Export JSON…</button>
  </div>
</header>
<div id="status" role="status" aria-live="polite"></div>
<div id="notice" class="notice" role="status" aria-live="polite"></div>
<main>
  <section id="summary" aria-label="Summary"></section>
  <div id="charts"></div>
  <div id="tables"></div>
  <section id="history-section" aria-labelledby="history-title">
    <h2 id="history-title">Run history</h2>
    <div id="history"></div>
  </section>
  <section id="comparison" aria-labelledby="compare-title"></section>
</main>
<script nonce="${attr(nonce)}" src="${attr(script)}"></script>
</body>
</html>`;
}
