/**
 * The Review webview's page: a strict Content Security Policy (nothing by default; scripts only with the
 * per-load nonce or from the extension's own webview folder; no inline styles), one script, one style
 * sheet. The page builds its DOM itself from messages (textContent only).
 */
import * as vscode from 'vscode';
import { attr, makeNonce } from '../webviewHtml';


/** The resource roots a review panel may load from: the bundled webview code, the styles, and the document's folder. */
export function reviewResourceRoots(extensionUri: vscode.Uri, documentFolder: vscode.Uri | undefined): vscode.Uri[] {
  // dist/pdfjs: cMaps and standard fonts, for PDFs whose fonts are not embedded (CJK text, the base 14 fonts)
  const roots = [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'dist', 'pdfjs'), vscode.Uri.joinPath(extensionUri, 'media')];
  if (documentFolder) roots.push(documentFolder);
  return roots;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data: blob:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    // the nonce'd entry script; pdf.js is imported from the extension's webview folder
    `script-src 'nonce-${nonce}' ${cspSource}`,
    `worker-src ${cspSource} blob:`,
    // pdf.js fetches the document (a webview URI of the document's folder)
    `connect-src ${cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function reviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, nonce = makeNonce()): string {
  const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  const script = asset('dist', 'webview', 'review.js');
  const style = asset('media', 'review', 'review.css');
  const pdfjs = asset('dist', 'webview', 'pdf.min.mjs');
  const pdfWorker = asset('dist', 'webview', 'pdf.worker.min.mjs');
  // pdf.js appends file names to these: they must end with a slash
  const cmaps = asset('dist', 'pdfjs', 'cmaps') + '/';
  const fonts = asset('dist', 'pdfjs', 'standard_fonts') + '/';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(webview.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(style)}">
<title>Review</title>
</head>
<body data-pdfjs="${attr(pdfjs)}" data-pdf-worker="${attr(pdfWorker)}" data-pdf-cmaps="${attr(cmaps)}" data-pdf-fonts="${attr(fonts)}">
<div id="app" class="app" aria-busy="true"><p class="loading">Loading review…</p></div>
<script nonce="${attr(nonce)}" src="${attr(script)}"></script>
</body>
</html>`;
}
