/**
 * What a failed attempt does to its document's attempts when other parts of the run changed them while it was
 * out: the circuit breaker gives back the attempts that revealed an outage (followOutage) at the moment it
 * opens, which may fall while a later attempt of the same document is on the wire.
 */
import { strict as assert } from 'node:assert';
import type { ActiveRun } from '../../src/core/activeRun';
import { newDocument } from '../../src/core/admission';
import { handleFailedAttempt, type FailureContext } from '../../src/core/attemptFailure';
import { CancelledError, ErrorCodes, ExtractionError } from '../../src/core/errors';
import { EventBus } from '../../src/core/events';
import { nullLogger } from '../../src/core/logger';
import { DEFAULT_RETRY_POLICY } from '../../src/core/retry';
import { MemoryCheckpointStore } from '../fakes/memoryStore';

const FILE = { path: 'a.txt', absPath: '/nowhere/a.txt', size: 10, mtimeMs: 1 };

function setup(): { store: MemoryCheckpointStore; ctx: FailureContext; run: ActiveRun; requeued: string[] } {
  const store = new MemoryCheckpointStore();
  const requeued: string[] = [];
  const ctx: FailureContext = {
    store,
    events: new EventBus(),
    log: nullLogger,
    policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 5 },
    breaker: undefined,
    fingerprint: 'f',
    now: () => 1000,
    random: () => 0.5,
    price: () => 0,
    addSpent: () => undefined,
    requeue: (_run, file) => void requeued.push(file.path),
    stopFatal: () => undefined,
    forget: () => undefined,
  };
  // only what the failure handling reads of a run
  const run = { record: { id: 'run-1' }, controller: new AbortController(), active: new Set([FILE.path]), retryTimers: new Map(), stats: { deadLettered: 0 } } as unknown as ActiveRun;
  return { store, ctx, run, requeued };
}

const attempt2 = { attempt: 2, startedAt: 500, stage: 'extracting' as const, stageMs: {}, stageStart: 600, spent: { tokensIn: 0, tokensOut: 0, cost: 0 } };

describe('a failed attempt and the attempts given back while it was out', () => {
  it('a failure during an outage gives back one attempt from what the store holds, keeping the refund made meanwhile', async () => {
    const { store, ctx, run, requeued } = setup();
    // attempt 2 started (attempts 2); then the breaker opened and gave back attempt 1's failure (attempts 1)
    store.putDocument({ ...newDocument(FILE, 0), stage: 'extracting', attempts: 2 });
    store.patchDocument(FILE.path, { attempts: 1 });
    const outage = new ExtractionError(ErrorCodes.SERVER_ERROR, '503', { details: { outage: true } });
    await handleFailedAttempt(ctx, run, FILE, attempt2, outage);
    const doc = store.getDocument(FILE.path);
    assert.equal(doc?.attempts, 0, 'neither the refunded attempt nor this one counts');
    assert.equal(doc?.stage, 'pending');
    assert.deepEqual(requeued, [FILE.path], 'it waits for the provider like the others');
  });

  it('a stop does the same for the attempt it cancels', async () => {
    const { store, ctx, run } = setup();
    store.putDocument({ ...newDocument(FILE, 0), stage: 'extracting', attempts: 2 });
    store.patchDocument(FILE.path, { attempts: 1 });
    run.controller.abort(new CancelledError('Stopped by the user'));
    await handleFailedAttempt(ctx, run, FILE, attempt2, new CancelledError('Stopped by the user'));
    assert.equal(store.getDocument(FILE.path)?.attempts, 0);
    assert.equal(run.active.has(FILE.path), false);
  });

  it('without a refund, the attempt that did not count is the only one taken back', async () => {
    const { store, ctx, run } = setup();
    store.putDocument({ ...newDocument(FILE, 0), stage: 'extracting', attempts: 2 });
    await handleFailedAttempt(ctx, run, FILE, attempt2, new ExtractionError(ErrorCodes.SERVER_ERROR, '503', { details: { outage: true } }));
    assert.equal(store.getDocument(FILE.path)?.attempts, 1, 'attempt 1 (a failure of its own) still counts');
  });
});
