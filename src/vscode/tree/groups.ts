/**
 * Status groups of the Documents tree and how documents and events map onto them. Pure.
 */
import type { PipelineEvent } from '../../core/events';
import { ACTIVE_STAGES, type DocumentState, type Readiness, type RunCounts, type Stage } from '../../core/types';

export type GroupId = 'pending' | 'running' | 'needsReview' | 'done' | 'failed' | 'deadLettered' | 'rejected';

/**
 * Display order. `needsReview` is a view of `done`, not a status: done documents with a value below the
 * confidence threshold that nobody marked reviewed. They stay under Done as well (Done keeps matching
 * the store's counts and the run's progress; the review queue is an extra way in).
 */
export const GROUP_IDS: readonly GroupId[] = ['pending', 'running', 'needsReview', 'done', 'failed', 'deadLettered', 'rejected'];

export interface GroupDef {
  id: GroupId;
  label: string;
  /** Key of {@link RunCounts} that counts the group. */
  countKey: keyof RunCounts;
  /** Stages the store query asks for (undefined: all). */
  stages?: readonly Stage[];
  /**
   * Readiness values the store query asks for: rejected documents form their own group whatever their
   * stage (the same rule as the store's counts), so every other group leaves them out.
   */
  readiness: readonly Readiness[];
}

const ACCEPTED: readonly Readiness[] = ['not-ready', 'ready'];

export const GROUPS: Readonly<Record<GroupId, GroupDef>> = {
  pending: { id: 'pending', label: 'Pending', countKey: 'pending', stages: ['pending'], readiness: ACCEPTED },
  running: { id: 'running', label: 'Running', countKey: 'running', stages: ACTIVE_STAGES, readiness: ACCEPTED },
  // counted by the model (a filter over done documents); `done` changing marks it dirty
  needsReview: { id: 'needsReview', label: 'Needs review', countKey: 'done', stages: ['done'], readiness: ACCEPTED },
  done: { id: 'done', label: 'Done', countKey: 'done', stages: ['done'], readiness: ACCEPTED },
  failed: { id: 'failed', label: 'Failed', countKey: 'failed', stages: ['failed'], readiness: ACCEPTED },
  deadLettered: { id: 'deadLettered', label: 'Dead-lettered', countKey: 'deadLettered', stages: ['dead-lettered'], readiness: ACCEPTED },
  rejected: { id: 'rejected', label: 'Rejected', countKey: 'rejected', readiness: ['rejected'] },
};

/** The group a document is shown in (same rule as the store's counts). */
export function groupOf(doc: DocumentState): GroupId {
  if (doc.readiness === 'rejected') return 'rejected';
  switch (doc.stage) {
    case 'pending':
      return 'pending';
    case 'done':
      return 'done';
    case 'failed':
      return 'failed';
    case 'dead-lettered':
      return 'deadLettered';
    default:
      return 'running';
  }
}

/** The group a document enters with an event, or undefined for run-level events. */
export function groupOfEvent(e: PipelineEvent): GroupId | undefined {
  switch (e.type) {
    case 'doc/queued':
    case 'doc/requeued':
      return 'pending';
    case 'doc/started':
    case 'doc/stage':
      return 'running';
    case 'doc/completed':
    case 'doc/skipped':
      return 'done';
    case 'doc/retry':
    case 'doc/failed':
      return 'failed';
    case 'doc/dead-lettered':
      return 'deadLettered';
    case 'doc/rejected':
      return 'rejected';
    default:
      return undefined;
  }
}

/** Context value of a document item, used by `view/item/context` menus: `document.failed`, … */
export function documentContextValue(group: GroupId): string {
  // a document that needs review is a done document: the same menus apply
  return `document.${group === 'needsReview' ? 'done' : group}`;
}

export function groupContextValue(group: GroupId): string {
  return `group.${group}`;
}

/**
 * The job line of a document's tooltip in a mixed folder (a router job), or undefined: the job, and whether
 * its globs or a classification chose it; `none`: the classification found no job that fits.
 */
export function jobLine(doc: Pick<DocumentState, 'job' | 'jobKey'>): string | undefined {
  if (doc.job === undefined) return undefined;
  if (doc.job === 'none') return 'Job: none fits (classified)';
  return `Job: ${doc.job} (${doc.jobKey !== undefined ? 'classified' : 'by its globs'})`;
}
