/**
 * Grounding worker thread (bundled to `dist/groundingWorker.js`): grounds one result per message with
 * {@link groundValues}, so grounding a very long document never blocks the thread that runs the
 * pipeline (the VS Code extension host). See `groundingThread.ts` for the main-thread side.
 */
import { parentPort } from 'worker_threads';
import { groundValues } from './grounding';
import type { GroundingRequest, GroundingResponse } from './groundingThread';

const port = parentPort;
if (port) {
  port.on('message', (req: GroundingRequest) => {
    let res: GroundingResponse;
    try {
      res = { id: req.id, grounding: groundValues(req.data, req.doc) };
    } catch (err) {
      res = { id: req.id, error: (err as Error)?.message ?? String(err) };
    }
    port.postMessage(res);
  });
}
