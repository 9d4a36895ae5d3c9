import { strict as assert } from 'node:assert';
import { CircuitBreaker, type CircuitEvent } from '../../src/core/circuitBreaker';
import { CancelledError, ErrorCodes, ExtractionError, isRunFatalCode } from '../../src/core/errors';
import { FakeClock, flush } from '../support/fakeClock';

const down = (): ExtractionError => new ExtractionError(ErrorCodes.SERVER_ERROR, 'The model server failed (503).');

/** A breaker on a fake clock whose probe answers as `probe.up` says, and records what it did. */
function setup(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  const clock = new FakeClock();
  const probe = { up: false, calls: [] as number[], error: undefined as ExtractionError | undefined };
  const cb = new CircuitBreaker({ clock, random: () => 0.5, provider: 'P', ...options });
  cb.setProbe(async () => {
    probe.calls.push(clock.now());
    if (probe.error) throw probe.error;
    if (!probe.up) throw down();
  });
  const events: CircuitEvent[] = [];
  cb.onEvent((e) => events.push(e));
  return { clock, probe, cb, events, types: () => events.map((e) => e.type) };
}

describe('CircuitBreaker (outages pause and probe)', () => {
  it("one document's repeated failures never open it (a poison document is the document's problem)", async () => {
    const { cb, probe, types } = setup();
    for (let i = 0; i < 20; i++) assert.equal(cb.failure('poison.txt', ErrorCodes.SERVER_ERROR, 'x'), 'counted');
    await flush();
    assert.equal(cb.state, 'closed');
    assert.deepEqual(probe.calls, [], 'not even verified: one document is no evidence');
    assert.deepEqual(types(), []);
  });

  it('a failure after the provider answered others since the same document failed does not count', async () => {
    const { cb, probe, clock } = setup();
    const sentBefore = cb.sent(); // t = 0
    clock.t = 10;
    assert.equal(cb.failure('a', ErrorCodes.SERVER_ERROR, 'x'), 'counted');
    clock.t = 20;
    cb.success('b', sentBefore);
    assert.equal(cb.failure('a', ErrorCodes.SERVER_ERROR, 'x'), 'counted', 'the answer was to a request sent before the failure: no evidence');
    clock.t = 30;
    const sentAfter = cb.sent();
    clock.t = 40;
    cb.success('b', sentAfter);
    clock.t = 50;
    assert.equal(cb.failure('a', ErrorCodes.SERVER_ERROR, 'x'), 'not-counted', 'a request sent after its last failure succeeded');
    assert.equal(cb.failure('c', ErrorCodes.SERVER_ERROR, 'x'), 'counted');
    clock.t = 60;
    assert.equal(cb.failure('a', ErrorCodes.SERVER_ERROR, 'x'), 'counted', 'no success since its last failure: counts again');
    await flush();
    assert.equal(probe.calls.length, 0, '2 counted failures: below the threshold of 3');
  });

  it('failures across documents with no success: it verifies with one probe; an answer keeps it closed', async () => {
    const { cb, probe, types, clock } = setup();
    probe.up = true;
    cb.failure('a', ErrorCodes.SERVER_ERROR, 'x');
    cb.failure('a', ErrorCodes.TIMEOUT, 'x');
    cb.failure('b', ErrorCodes.NETWORK, 'x');
    assert.equal(cb.state, 'verifying');
    clock.t = 1;
    let passed = false;
    void cb.whenClosed().then(() => (passed = true));
    await flush();
    assert.equal(probe.calls.length, 1);
    assert.equal(cb.state, 'closed');
    assert.equal(passed, true, 'dispatch waited for the verification only');
    assert.deepEqual(types(), ['verifying', 'closed']);
    // the documents that failed are now suspects: their next failures do not count
    clock.t = 2;
    assert.equal(cb.failure('a', ErrorCodes.SERVER_ERROR, 'x'), 'not-counted');
  });

  it('opens when the probe fails: refunds the counted failures, probes at doubling intervals, closes when it answers', async () => {
    const { cb, probe, clock, events, types } = setup({ probeBaseMs: 2000, probeMaxMs: 8000 });
    cb.failure('a', ErrorCodes.SERVER_ERROR, 'x');
    cb.failure('b', ErrorCodes.SERVER_ERROR, 'x');
    cb.failure('b', ErrorCodes.SERVER_ERROR, 'The model server failed (503).');
    const waiter = cb.whenClosed();
    let passed = false;
    void waiter.then(() => (passed = true));
    await flush();
    assert.equal(cb.state, 'open');
    const opened = events.find((e) => e.type === 'opened');
    assert.ok(opened && opened.type === 'opened');
    assert.deepEqual([...opened.refunds], [
      ['a', 1],
      ['b', 2],
    ]);
    assert.equal(opened.outage.lastCode, ErrorCodes.SERVER_ERROR);
    assert.equal(opened.outage.nextProbeAt, 2000);
    assert.equal(cb.failure('c', ErrorCodes.SERVER_ERROR, 'x'), 'outage', 'a request on the wire when it opened');
    await clock.advance(1999);
    assert.equal(probe.calls.length, 1, 'only the verification so far');
    await clock.advance(1);
    await clock.advance(4000); // 2 s, then 4 s
    await clock.advance(8000); // capped at 8 s
    await clock.advance(8000);
    assert.deepEqual(probe.calls, [0, 2000, 6000, 14000, 22000]);
    assert.equal(passed, false);
    const waiting = events.filter((e) => e.type === 'waiting');
    assert.equal(waiting.length, 4);
    const last = waiting.at(-1);
    assert.ok(last?.type === 'waiting');
    assert.equal(last.outage.nextProbeAt, 30000);
    probe.up = true;
    await clock.advance(8000);
    assert.equal(passed, true);
    assert.equal(cb.state, 'closed');
    assert.equal(types().at(-1), 'closed');
    const closed = events.at(-1);
    assert.ok(closed?.type === 'closed' && closed.outage?.since === 0 && closed.outage.probes === 5);
  });

  it('a request that succeeds while open closes it at once', async () => {
    const { cb } = setup();
    for (const d of ['a', 'b', 'c']) cb.failure(d, ErrorCodes.SERVER_ERROR, 'x');
    await flush();
    assert.equal(cb.state, 'open');
    const waiter = cb.whenClosed();
    cb.success('d');
    await waiter;
    assert.equal(cb.state, 'closed');
  });

  it('gives up after the outage limit: PROVIDER_UNAVAILABLE (run-fatal) for every waiter, with what to do', async () => {
    const { cb, clock, types } = setup({ probeBaseMs: 1000, probeMaxMs: 60_000, maxOutageMs: 5 * 60_000 });
    for (const d of ['a', 'b', 'c']) cb.failure(d, ErrorCodes.SERVER_ERROR, 'The model server failed (503).');
    await flush();
    const waiter = cb.whenClosed().then(
      () => undefined,
      (e: unknown) => e,
    );
    await clock.advance(5 * 60_000 - 1);
    assert.equal(cb.state, 'open');
    await clock.advance(1);
    const e = (await waiter) as ExtractionError;
    assert.ok(e instanceof ExtractionError);
    assert.equal(e.code, ErrorCodes.PROVIDER_UNAVAILABLE);
    assert.equal(isRunFatalCode(e.code), true);
    assert.match(e.message, /^P has failed for 5 minutes \(\d+ probes; last error: \[SERVER_ERROR\] The model server failed \(503\)\.\)\. The run stopped with its progress saved: run it again \(or Resume\) once the provider is back, or raise maxOutageMinutes to wait longer\.$/);
    assert.equal(types().at(-1), 'gave-up');
    await assert.rejects(cb.whenClosed(), (x: ExtractionError) => x.code === ErrorCodes.PROVIDER_UNAVAILABLE);
    cb.reset();
    assert.equal(cb.state, 'closed');
    await cb.whenClosed();
  });

  it('a probe answered with an error no waiting fixes (401, no quota) gives up at once', async () => {
    const { cb, probe, types } = setup();
    probe.error = new ExtractionError(ErrorCodes.AUTH_FAILED, 'The API key was rejected (401).');
    for (const d of ['a', 'b', 'c']) cb.failure(d, ErrorCodes.SERVER_ERROR, 'x');
    await flush();
    assert.equal(cb.state, 'gave-up');
    await assert.rejects(cb.whenClosed(), (e: ExtractionError) => e.code === ErrorCodes.AUTH_FAILED);
    assert.deepEqual(types(), ['verifying', 'gave-up']);
  });

  it('verifyDocument: up without a probe when a request sent after its failure succeeded; otherwise a probe decides (a failed one opens)', async () => {
    const { cb, probe } = setup();
    cb.failure('a', ErrorCodes.SERVER_ERROR, 'x');
    cb.success('x', cb.sent());
    assert.equal(await cb.verifyDocument('a'), 'up');
    assert.equal(probe.calls.length, 0);
    const inFlight = cb.sent(); // sent before b's failure, answered after it: no evidence
    cb.failure('b', ErrorCodes.SERVER_ERROR, 'x');
    cb.success('y', inFlight);
    assert.equal(await cb.verifyDocument('b'), 'down');
    assert.equal(probe.calls.length, 1);
    assert.equal(cb.state, 'open');
    assert.equal(await cb.verifyDocument('b'), 'down', 'open: no second probe');
    assert.equal(probe.calls.length, 1);
    cb.reset();
    probe.up = true;
    cb.failure('c', ErrorCodes.SERVER_ERROR, 'x');
    assert.equal(await cb.verifyDocument('c'), 'up');
    assert.equal(cb.state, 'closed');
  });

  it('waiting honours an abort signal; threshold 0 disables it; bad options are refused', async () => {
    const { cb } = setup();
    for (const d of ['a', 'b', 'c']) cb.failure(d, ErrorCodes.SERVER_ERROR, 'x');
    await flush();
    const ac = new AbortController();
    const w = cb.whenClosed(ac.signal);
    ac.abort();
    await assert.rejects(w, (e: unknown) => e instanceof CancelledError);
    const off = setup({ threshold: 0 });
    for (const d of ['a', 'b', 'c', 'd', 'e']) off.cb.failure(d, ErrorCodes.SERVER_ERROR, 'x');
    await flush();
    assert.equal(off.cb.state, 'closed');
    assert.equal(await off.cb.verifyDocument('a'), 'up');
    assert.equal(off.probe.calls.length, 0);
    assert.throws(() => new CircuitBreaker({ threshold: -1 }), /threshold must be an integer ≥ 0/);
    assert.throws(() => new CircuitBreaker({ maxOutageMs: Number.NaN }), /maxOutageMs/);
  });
});
