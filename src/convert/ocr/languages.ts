/**
 * Where the Tesseract language data (`<lang>.traineddata[.gz]`) of each OCR language is: a folder the
 * user names (`ocrDataDirs`), the data shipped beside the bundle (`dist/tessdata`, English), or an
 * installed `@tesseract.js-data/<lang>` npm package (its `4.0.0_best_int/` folder, else `4.0.0/`).
 * Nothing is downloaded: a language without data fails the run at the start with INVALID_CONFIG naming the
 * package to install.
 */
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import { ErrorCodes, ExtractionError } from '../../core/errors';

export interface LanguageData {
  code: string;
  file: string;
  /** Size of the file, part of the cache key (a new data version changes it). */
  bytes: number;
}

const LANG_RE = /^[A-Za-z][A-Za-z0-9_]{1,31}$/;

function inDir(dir: string, code: string): string | undefined {
  for (const name of [`${code}.traineddata.gz`, `${code}.traineddata`]) {
    const f = path.join(dir, name);
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

function inPackage(code: string, from: string[]): string | undefined {
  for (const base of from) {
    let pkg: string;
    try {
      pkg = path.dirname(createRequire(path.join(base, 'noop.js')).resolve(`@tesseract.js-data/${code}/package.json`));
    } catch {
      continue;
    }
    for (const sub of ['4.0.0_best_int', '4.0.0']) {
      const f = inDir(path.join(pkg, sub), code);
      if (f) return f;
    }
  }
  return undefined;
}

/** The data file of each language, in order; INVALID_CONFIG naming the npm package for a missing one. */
export function resolveLanguages(codes: readonly string[], dirs: readonly string[]): LanguageData[] {
  if (codes.length === 0) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, 'ocrLanguages must name at least one language (e.g. ["eng"])', { retryable: false });
  return codes.map((code) => {
    if (!LANG_RE.test(code)) {
      throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Invalid OCR language "${code}": use Tesseract's codes (eng, deu, fra, chi_sim, …)`, { retryable: false });
    }
    let file: string | undefined;
    for (const d of dirs) file ??= inDir(d, code);
    file ??= inPackage(code, [__dirname, process.cwd()]);
    if (!file) {
      throw new ExtractionError(
        ErrorCodes.INVALID_CONFIG,
        `OCR language "${code}" is not installed: install its data with \`npm install @tesseract.js-data/${code}\`, or put ${code}.traineddata.gz (from that package's 4.0.0_best_int/ folder) in a folder named by the OCR data folder setting (extractionWorkbench.ocr.dataDir, CLI --ocr-data-dir)`,
        { retryable: false, details: { language: code, package: `@tesseract.js-data/${code}` } },
      );
    }
    return { code, file, bytes: fs.statSync(file).size };
  });
}
