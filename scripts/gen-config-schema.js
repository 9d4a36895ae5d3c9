#!/usr/bin/env node
'use strict';
/**
 * Writes schemas/extraction.config.schema.json (contributed to VS Code through `jsonValidation`) from the
 * zod schema that the extension and the CLI validate extraction.config.json with (src/app/config.ts), so
 * the editor's completion and validation never drift from what is accepted.
 *
 *   node scripts/gen-config-schema.js           (npm run schema) writes the file
 *   node scripts/gen-config-schema.js --check   exits 1 when the checked-in file is out of date
 *
 * The unit test test/unit/configSchema.test.ts fails as well when the file is out of date.
 */
const esbuild = require('esbuild');
const fs = require('fs');
const Module = require('module');
const path = require('path');

const root = path.resolve(__dirname, '..');

/** Loads src/app/config.ts, bundled in memory (node_modules stay external). */
function loadConfigModule() {
  const entry = path.join(root, 'src', 'app', 'config.ts');
  const out = esbuild.buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', packages: 'external', write: false, logLevel: 'warning' });
  const m = new Module(entry, module);
  m.filename = entry;
  m.paths = Module._nodeModulePaths(path.dirname(entry));
  m._compile(out.outputFiles[0].text, entry);
  return m.exports;
}

function main() {
  const config = loadConfigModule();
  const file = path.join(root, config.CONFIG_JSON_SCHEMA_FILE);
  const text = config.configJsonSchemaText();
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (process.argv.includes('--check')) {
    if (current !== text) {
      process.stderr.write(`${config.CONFIG_JSON_SCHEMA_FILE} is out of date: run npm run schema\n`);
      process.exitCode = 1;
    }
    return;
  }
  if (current === text) {
    process.stdout.write(`${config.CONFIG_JSON_SCHEMA_FILE} is up to date\n`);
    return;
  }
  fs.writeFileSync(file, text);
  process.stdout.write(`wrote ${config.CONFIG_JSON_SCHEMA_FILE}\n`);
}

main();
