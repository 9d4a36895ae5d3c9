/** The opt-in request log: one redacted JSON line per model request, one file per run. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createRequestLog,
  listRequestLogs,
  NO_REQUEST_LOG,
  pruneRequestLogs,
  readRequestLog,
  RequestLog,
  requestLogFile,
  type RequestLogEntry,
} from '../../src/store/requestLog';

const KEY = 'sk-proj-THISISTHEKEY0123456789';

function entry(over: Partial<RequestLogEntry> = {}): RequestLogEntry {
  return {
    at: Date.UTC(2026, 0, 2, 3, 4, 5),
    runId: 'run-1',
    path: 'invoices/a.pdf',
    attempt: 1,
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'Extract the fields.' },
      { role: 'user', content: 'Document: invoices/a.pdf\nTotal: 12 EUR' },
    ],
    reply: '{"total": 12}',
    status: 200,
    tokensIn: 40,
    tokensOut: 5,
    ...over,
  };
}

describe('request log', () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-requestlog-'));
  });
  afterEach(() => fs.rmSync(stateDir, { recursive: true, force: true }));

  it('writes one JSON line per request to requests/<runId>.ndjson, with the time as ISO', () => {
    const log = new RequestLog({ stateDir, apiKey: KEY });
    log.write(entry());
    log.write(entry({ attempt: 2, reply: undefined, error: { code: 'TIMEOUT', message: 'no answer in 120 s' }, status: undefined }));
    log.close();
    const file = requestLogFile(stateDir, 'run-1');
    assert.equal(file, path.join(stateDir, 'requests', 'run-1.ndjson'));
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const [first, second] = readRequestLog(stateDir, 'run-1');
    assert.equal(first.time, '2026-01-02T03:04:05.000Z');
    assert.equal((first as { at?: unknown }).at, undefined);
    assert.deepEqual([first.path, first.attempt, first.reply, first.status, first.tokensIn, first.tokensOut], ['invoices/a.pdf', 1, '{"total": 12}', 200, 40, 5]);
    assert.deepEqual(first.messages[1], { role: 'user', content: 'Document: invoices/a.pdf\nTotal: 12 EUR' });
    assert.deepEqual(second.error, { code: 'TIMEOUT', message: 'no answer in 120 s' });
    assert.equal(second.reply, undefined);
  });

  it('never writes the API key, other keys or bearer tokens', () => {
    const log = new RequestLog({ stateDir, apiKey: KEY });
    log.write(
      entry({
        messages: [{ role: 'user', content: `my key is ${KEY}, another sk-abcdef1234567890, header Authorization: Bearer tok.en.123` }],
        params: { headers: { authorization: `Bearer ${KEY}` }, baseURL: 'https://user:secret@example.com/v1' },
        error: { code: 'AUTH_FAILED', message: `Incorrect API key provided: ${KEY}` },
      }),
    );
    log.close();
    const text = fs.readFileSync(requestLogFile(stateDir, 'run-1'), 'utf8');
    for (const secret of [KEY, 'THISISTHEKEY', 'sk-abcdef1234567890', 'tok.en.123', 'secret@']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    const [line] = readRequestLog(stateDir, 'run-1');
    assert.match(String(line.messages[0].content), /my key is \[redacted\], another sk-\[redacted\], header Authorization: Bearer \[redacted\]/);
    assert.equal((line.params as { baseURL: string }).baseURL, 'https://example.com/v1');
  });

  it('starts a new file for a new run, appends to an existing one', () => {
    const log = new RequestLog({ stateDir });
    log.write(entry());
    log.write(entry({ runId: 'run-2' }));
    log.close();
    const again = new RequestLog({ stateDir });
    again.write(entry({ attempt: 3 }));
    again.close();
    assert.deepEqual(listRequestLogs(stateDir), ['run-1', 'run-2']);
    assert.deepEqual(
      readRequestLog(stateDir, 'run-1').map((l) => l.attempt),
      [1, 3],
    );
    assert.equal(readRequestLog(stateDir, 'run-2').length, 1);
    assert.deepEqual(readRequestLog(stateDir, 'no-such-run'), []);
  });

  it('skips a line torn by a crash when reading', () => {
    const log = new RequestLog({ stateDir });
    log.write(entry());
    log.close();
    fs.appendFileSync(requestLogFile(stateDir, 'run-1'), '{"time":"2026-01-02T03:04:06.000Z","runId":"run-1","pa');
    assert.equal(readRequestLog(stateDir, 'run-1').length, 1);
  });

  it('a failing write never throws: the log turns itself off and says so once', () => {
    fs.writeFileSync(path.join(stateDir, 'requests'), 'a file where the folder should be');
    const errors: Error[] = [];
    const log = new RequestLog({ stateDir, onError: (e) => errors.push(e) });
    assert.doesNotThrow(() => log.write(entry()));
    assert.doesNotThrow(() => log.write(entry({ attempt: 2 })));
    log.close();
    assert.equal(errors.length, 1);
  });

  it('is a no-op sink unless logRequests is on', () => {
    assert.equal(createRequestLog({ stateDir }), NO_REQUEST_LOG);
    assert.equal(createRequestLog({ stateDir, logRequests: false }), NO_REQUEST_LOG);
    NO_REQUEST_LOG.write(entry());
    assert.ok(!fs.existsSync(path.join(stateDir, 'requests')));
    const on = createRequestLog({ stateDir, logRequests: true }, { apiKey: KEY });
    assert.ok(on instanceof RequestLog);
    on.write(entry());
    on.close();
    on.write(entry({ attempt: 9 }));
    assert.equal(readRequestLog(stateDir, 'run-1').length, 1, 'nothing is written after close');
  });

  it('prunes logs of runs outside the limits, never the current run', () => {
    const log = new RequestLog({ stateDir });
    for (const runId of ['old', 'kept', 'current']) log.write(entry({ runId }));
    log.close();
    const past = Date.now() / 1000 - 40 * 86_400;
    fs.utimesSync(requestLogFile(stateDir, 'current'), past, past);
    assert.equal(pruneRequestLogs(stateDir, { keepRunIds: ['kept', 'current'], currentRunId: 'current' }), 1);
    assert.deepEqual(listRequestLogs(stateDir), ['current', 'kept']);
    assert.equal(pruneRequestLogs(stateDir, { olderThan: Date.now() - 30 * 86_400_000, currentRunId: 'current' }), 0, 'the current run is kept however old');
    fs.utimesSync(requestLogFile(stateDir, 'kept'), past, past);
    assert.equal(pruneRequestLogs(stateDir, { olderThan: Date.now() - 30 * 86_400_000, currentRunId: 'current' }), 1);
    assert.deepEqual(listRequestLogs(stateDir), ['current']);
    assert.equal(pruneRequestLogs(path.join(stateDir, 'none'), { keepRunIds: [] }), 0);
  });
});
