/**
 * One run id for a fleet: a worker that starts while other workers of the same folder are under way takes
 * part in their run instead of starting one of its own, so `status` and `history` show the fleet's work as
 * one run. The run to join is the latest one, not finished, of the same configuration (fingerprint), while
 * another worker holds a live claim; a run row left `running` by a fleet that was killed is not joined (no
 * live claim), and a worker then starts a new run. Workers starting at the very same moment may each start
 * one (neither sees the other's yet).
 */
import type { RunRecord } from '../core/types';
import type { WorkClaims } from '../core/workClaims';
import type { CheckpointStore } from '../store/types';

export async function joinableRun(store: CheckpointStore, claims: Pick<WorkClaims, 'othersLive'>, fingerprint: string): Promise<RunRecord | undefined> {
  // the other workers' latest changes (their run rows) first
  await store.refresh?.();
  const run = store.latestRun();
  if (!run || (run.status !== 'running' && run.status !== 'paused') || run.fingerprint !== fingerprint) return undefined;
  return (await claims.othersLive()) > 0 ? run : undefined;
}
