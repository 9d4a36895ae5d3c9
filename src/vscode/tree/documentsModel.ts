/**
 * The Documents tree MODEL: what the tree shows, kept in step with the checkpoint store through pipeline
 * events. It knows nothing about `vscode`; {@link DocumentsProvider} maps its nodes to TreeItems.
 *
 * - Top level: status groups with counts (one workspace folder), or one node per workspace folder that has
 *   state (several workspace folders, even while only one of them has state: the tree always says which
 *   folder a document belongs to).
 * - A group's documents are paged from the store (`listDocuments` with offset/limit), `pageSize` at a
 *   time, followed by a "load more" node.
 * - Events only mark things dirty; a flush at most every `throttleMs` reads the counts once and refreshes
 *   only the groups that changed (a group whose count changed, a group a document entered, a group that
 *   shows a document that changed). No store query and no tree refresh per event.
 * - Node objects are stable (VS Code keys refreshes by element identity) and have stable ids.
 */
import type { PipelineEvent } from '../../core/events';
import { emptyCounts, type DocumentState, type RunCounts } from '../../core/types';
import type { CheckpointStore } from '../../store/types';
import { Disposable, Emitter, type IDisposable } from '../dispose';
import { Throttle } from '../throttle';
import { GROUP_IDS, GROUPS, groupOf, groupOfEvent, type GroupId } from './groups';

/** What the model needs to know about a workspace folder. */
export interface ModelFolder {
  /** Stable key, e.g. the folder URI. */
  readonly key: string;
  readonly name: string;
  /** The folder's open checkpoint store, or undefined when it has no state (yet). */
  readonly store: CheckpointStore | undefined;
  /** Pipeline events of the folder (stable across sessions). */
  readonly events: { on(listener: (e: PipelineEvent) => void): IDisposable };
}

export interface ModelFolderSource {
  folders(): readonly ModelFolder[];
  /** Fires when folders are added or removed, or a store is opened or closed. */
  readonly onDidChangeFolders: (listener: () => void) => IDisposable;
}

export interface FolderNode {
  readonly kind: 'folder';
  readonly id: string;
  readonly folderKey: string;
  name: string;
  counts: RunCounts;
}

export interface GroupNode {
  readonly kind: 'group';
  readonly id: string;
  readonly folderKey: string;
  readonly group: GroupId;
  readonly label: string;
  count: number;
}

export interface DocNode {
  readonly kind: 'doc';
  /** Includes the group: a document that moves to another group is a new item there. */
  readonly id: string;
  readonly folderKey: string;
  readonly group: GroupId;
  readonly parent: GroupNode;
  doc: DocumentState;
}

export interface MoreNode {
  readonly kind: 'more';
  readonly id: string;
  readonly folderKey: string;
  readonly parent: GroupNode;
  /** Documents not loaded yet. */
  remaining: number;
}

/** The run summary at the top of a folder: health and the last run; clicking it opens the run dashboard. */
export interface SummaryNode {
  readonly kind: 'summary';
  readonly id: string;
  readonly folderKey: string;
  info: RunSummaryInfo;
}

export type TreeNode = FolderNode | GroupNode | DocNode | MoreNode | SummaryNode;

/** What the run summary node shows (computed by the health monitor). */
export interface RunSummaryInfo {
  level: 'healthy' | 'degraded' | 'unhealthy';
  label: string;
  description: string;
  /** Tooltip lines (plain text). */
  details: string[];
  runId?: string;
  /** The run waits for a failing provider (shown with its own icon). */
  waiting?: boolean;
}

/** Source of run summaries, one per folder; fires with the folder whose summary changed (undefined: all). */
export interface RunSummarySource {
  get(folderKey: string): RunSummaryInfo | undefined;
  readonly onDidChange: (listener: (folderKey: string | undefined) => void) => IDisposable;
}

export interface DocumentsModelOptions {
  /** Documents loaded per page (default 500). */
  pageSize?: number;
  /** Minimum interval between refreshes (default 250 ms). */
  throttleMs?: number;
  /** Adds a run summary node at the top of each folder (health, last run). */
  summary?: RunSummarySource;
  /** Adds the "Needs review" group: the done documents this says need review. */
  review?: ReviewQueueSource;
}

/** Which done documents need review (low confidence, not marked reviewed). Should be cheap: cache per path and `updatedAt`. */
export interface ReviewQueueSource {
  /** The documents of `docs` (done documents of a folder) that need review, in the same order. */
  needsReview(folderKey: string, docs: DocumentState[]): DocumentState[];
}

interface GroupState {
  readonly node: GroupNode;
  readonly more: MoreNode;
  /** How many documents to show (grows by pageSize with "load more"). */
  limit: number;
  /** Loaded documents; undefined when not loaded yet or stale. */
  items: DocNode[] | undefined;
  /** Whether the last load stopped at `limit` with rows left. */
  truncated: boolean;
  readonly nodes: Map<string, DocNode>;
}

interface FolderState {
  readonly folder: ModelFolder;
  readonly node: FolderNode;
  readonly groups: Map<GroupId, GroupState>;
  readonly subscription: IDisposable;
  counts: RunCounts;
  /** Groups that documents entered since the last flush. */
  readonly enteredGroups: Set<GroupId>;
  /** Paths changed since the last flush. */
  readonly changedPaths: Set<string>;
  countsDirty: boolean;
}

export class DocumentsModel extends Disposable {
  readonly pageSize: number;
  readonly #source: ModelFolderSource;
  readonly #folders = new Map<string, FolderState>();
  readonly #onDidChange = this._register(new Emitter<readonly TreeNode[] | undefined>());
  /** Fires with the nodes to refresh, or undefined for the whole tree. */
  readonly onDidChange = this.#onDidChange.event;
  readonly #onDidFlush = this._register(new Emitter<void>());
  /** Fires after every flush (tests wait on it). */
  readonly onDidFlush = this.#onDidFlush.event;
  readonly #throttle: Throttle;
  #flushes = 0;
  readonly #summary: RunSummarySource | undefined;
  readonly #summaryNodes = new Map<string, SummaryNode>();
  readonly #review: ReviewQueueSource | undefined;

  constructor(source: ModelFolderSource, options: DocumentsModelOptions = {}) {
    super();
    this.pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1) throw new RangeError(`pageSize must be an integer ≥ 1, got ${this.pageSize}`);
    this.#source = source;
    this.#summary = options.summary;
    this.#review = options.review;
    if (this.#summary) this._register(this.#summary.onDidChange((key) => this.#onSummaryChange(key)));
    this._register(source.onDidChangeFolders(() => this.reload()));
    this._register({ dispose: () => this.#clearFolders() });
    this.#throttle = this._register(new Throttle(() => this.#flush(), options.throttleMs ?? 250));
    this.#syncFolders();
  }

  /** Number of flushes so far (tests use it to wait for the next one). */
  get flushes(): number {
    return this.#flushes;
  }

  // ------------------------------------------------------------------ queries

  /** Top-level nodes: groups of the only folder, or the folders with state (several folders). Empty when nothing ran. */
  roots(): TreeNode[] {
    const shown = this.#shownFolders();
    if (!this.#byFolder() && shown.length === 1) return [...this.#summaryOf(shown[0].folder.key), ...this.#visibleGroups(shown[0]).map((g) => g.node)];
    return shown.map((f) => f.node);
  }

  children(node?: TreeNode): TreeNode[] {
    if (!node) return this.roots();
    switch (node.kind) {
      case 'folder': {
        const f = this.#folders.get(node.folderKey);
        return f ? [...this.#summaryOf(node.folderKey), ...this.#visibleGroups(f).map((g) => g.node)] : [];
      }
      case 'group': {
        const f = this.#folders.get(node.folderKey);
        const g = f?.groups.get(node.group);
        if (!f || !g) return [];
        const items = this.#load(f, g);
        if (!g.truncated) return items;
        g.more.remaining = Math.max(0, g.node.count - items.length);
        return [...items, g.more];
      }
      default:
        return [];
    }
  }

  parent(node: TreeNode): TreeNode | undefined {
    switch (node.kind) {
      case 'folder':
        return undefined;
      case 'group':
      case 'summary':
        return this.#byFolder() ? this.#folders.get(node.folderKey)?.node : undefined;
      default:
        return node.parent;
    }
  }

  /** Counts as of the last flush (all folders summed when no key is given). */
  counts(folderKey?: string): RunCounts {
    if (folderKey) return { ...(this.#folders.get(folderKey)?.counts ?? emptyCounts()) };
    const sum = emptyCounts();
    for (const f of this.#folders.values()) for (const k of Object.keys(sum) as (keyof RunCounts)[]) sum[k] += f.counts[k];
    return sum;
  }

  /** The group node of a folder (it exists even while the group is empty and hidden). */
  group(folderKey: string, group: GroupId): GroupNode | undefined {
    return this.#folders.get(folderKey)?.groups.get(group)?.node;
  }

  /** The node of a document, loading its group's first pages if needed (for reveal). */
  findDocument(folderKey: string, path: string): DocNode | undefined {
    const f = this.#folders.get(folderKey);
    const doc = f?.folder.store?.getDocument(path);
    if (!f || !doc) return undefined;
    const g = f.groups.get(groupOf(doc));
    if (!g) return undefined;
    return this.#load(f, g).find((n) => n.doc.path === path);
  }

  // ------------------------------------------------------------------ commands

  /** Shows one more page of a group. */
  loadMore(node: GroupNode | MoreNode): void {
    const groupNode = node.kind === 'more' ? node.parent : node;
    const g = this.#folders.get(groupNode.folderKey)?.groups.get(groupNode.group);
    if (!g) return;
    g.limit += this.pageSize;
    g.items = undefined;
    this.#onDidChange.fire([g.node]);
  }

  /**
   * The review state or the threshold changed (a document marked reviewed, a setting): recounts the
   * "Needs review" group of a folder (all folders when no key is given) and refreshes it.
   */
  reviewChanged(folderKey?: string): void {
    let structure = false;
    const changed: TreeNode[] = [];
    for (const f of this.#folders.values()) {
      if (folderKey && f.folder.key !== folderKey) continue;
      const g = f.groups.get('needsReview')!;
      const before = g.node.count;
      g.node.count = this.#reviewQueue(f).length;
      g.items = undefined;
      if ((before > 0) !== (g.node.count > 0)) structure = true;
      else if (g.node.count > 0) changed.push(g.node);
    }
    if (structure) this.#onDidChange.fire(undefined);
    else if (changed.length) this.#onDidChange.fire(changed);
  }

  /** Re-reads everything from the stores (folders added, stores opened, "Refresh"). */
  reload(): void {
    this.#syncFolders();
    for (const f of this.#folders.values()) {
      f.counts = this.#readCounts(f);
      this.#updateNodes(f);
      for (const g of f.groups.values()) g.items = undefined;
    }
    this.#onDidChange.fire(undefined);
  }

  /** Flushes pending changes now (tests, and before reading the tree right after a command). */
  flush(): void {
    this.#throttle.runNow();
  }

  /** The run summary node of a folder, when a summary source was given and has one. */
  summary(folderKey: string): SummaryNode | undefined {
    return this.#summaryOf(folderKey)[0];
  }

  // ------------------------------------------------------------------ internals

  #summaryOf(folderKey: string): SummaryNode[] {
    const info = this.#summary?.get(folderKey);
    if (!info) return [];
    let node = this.#summaryNodes.get(folderKey);
    if (node) node.info = info;
    else {
      node = { kind: 'summary', id: `${folderKey}|summary`, folderKey, info };
      this.#summaryNodes.set(folderKey, node);
    }
    return [node];
  }

  #onSummaryChange(folderKey: string | undefined): void {
    if (this.isDisposed) return;
    const keys = folderKey ? [folderKey] : [...this.#folders.keys()];
    const changed: TreeNode[] = [];
    for (const key of keys) {
      const existing = this.#summaryNodes.get(key);
      const info = this.#summary?.get(key);
      // a node that appears or goes away changes the list of children: refresh the whole tree
      if (!existing || !info) {
        if (existing) this.#summaryNodes.delete(key);
        if (existing || info) {
          this.#onDidChange.fire(undefined);
          return;
        }
        continue;
      }
      existing.info = info;
      changed.push(existing);
    }
    if (changed.length) this.#onDidChange.fire(changed);
  }

  /** Whether the top level is one node per folder: the workspace has several folders. */
  #byFolder(): boolean {
    return this.#folders.size > 1;
  }

  #shownFolders(): FolderState[] {
    return [...this.#folders.values()].filter((f) => f.folder.store && f.counts.total > 0);
  }

  #visibleGroups(f: FolderState): GroupState[] {
    return GROUP_IDS.map((id) => f.groups.get(id)!).filter((g) => g.node.count > 0);
  }

  #syncFolders(): void {
    const wanted = new Map(this.#source.folders().map((f) => [f.key, f]));
    for (const [key, state] of this.#folders) {
      if (wanted.get(key) !== state.folder) {
        state.subscription.dispose();
        this.#folders.delete(key);
      }
    }
    for (const [key, folder] of wanted) {
      if (this.#folders.has(key)) continue;
      const groups = new Map<GroupId, GroupState>();
      for (const id of GROUP_IDS) {
        const node: GroupNode = { kind: 'group', id: `${key}|group:${id}`, folderKey: key, group: id, label: GROUPS[id].label, count: 0 };
        groups.set(id, {
          node,
          more: { kind: 'more', id: `${key}|more:${id}`, folderKey: key, parent: node, remaining: 0 },
          limit: this.pageSize,
          items: undefined,
          truncated: false,
          nodes: new Map(),
        });
      }
      const state: FolderState = {
        folder,
        node: { kind: 'folder', id: `${key}|folder`, folderKey: key, name: folder.name, counts: emptyCounts() },
        groups,
        subscription: folder.events.on((e) => this.#onEvent(state, e)),
        counts: emptyCounts(),
        enteredGroups: new Set(),
        changedPaths: new Set(),
        countsDirty: false,
      };
      state.counts = this.#readCounts(state);
      this.#updateNodes(state);
      this.#folders.set(key, state);
    }
  }

  #clearFolders(): void {
    for (const f of this.#folders.values()) f.subscription.dispose();
    this.#folders.clear();
  }

  #readCounts(f: FolderState): RunCounts {
    try {
      return f.folder.store ? f.folder.store.counts() : emptyCounts();
    } catch {
      return emptyCounts(); // store closed during shutdown
    }
  }

  #updateNodes(f: FolderState): void {
    f.node.counts = f.counts;
    for (const g of f.groups.values()) g.node.count = g.node.group === 'needsReview' ? this.#reviewQueue(f).length : f.counts[GROUPS[g.node.group].countKey];
  }

  /** Done documents that need review (none without a review source), in store order. */
  #reviewQueue(f: FolderState): DocumentState[] {
    const review = this.#review;
    const store = f.folder.store;
    if (!review || !store || !f.counts.done) return [];
    try {
      const def = GROUPS.needsReview;
      return review.needsReview(f.folder.key, store.listDocuments({ stages: def.stages!, readiness: def.readiness }));
    } catch {
      return []; // store closed during shutdown
    }
  }

  #onEvent(f: FolderState, e: PipelineEvent): void {
    if (this.isDisposed) return;
    const group = groupOfEvent(e);
    if (group) {
      f.enteredGroups.add(group);
      if ('path' in e) f.changedPaths.add(e.path);
    }
    f.countsDirty = true;
    // the end of a run shows at once: no document left under Running while the status bar says idle
    if (e.type === 'run/finished') this.#throttle.runNow();
    else this.#throttle.schedule();
  }

  #flush(): void {
    if (this.isDisposed) return;
    this.#flushes++;
    const changed: TreeNode[] = [];
    let structure = false;
    const shownBefore = this.#shownFolders().map((f) => f.node.id).join('\n');
    const multi = this.#byFolder();
    for (const f of this.#folders.values()) {
      if (!f.countsDirty) continue;
      f.countsDirty = false;
      const before = f.counts;
      const visibleBefore = this.#visibleGroups(f).map((g) => g.node.group).join();
      f.counts = this.#readCounts(f);
      this.#updateNodes(f);
      const dirty = new Set(f.enteredGroups);
      if (dirty.has('done')) dirty.add('needsReview');
      for (const g of f.groups.values()) {
        const key = GROUPS[g.node.group].countKey;
        if (before[key] !== f.counts[key]) dirty.add(g.node.group);
        else if (g.items && [...f.changedPaths].some((p) => g.nodes.has(p))) dirty.add(g.node.group);
      }
      f.enteredGroups.clear();
      f.changedPaths.clear();
      if (this.#visibleGroups(f).map((g) => g.node.group).join() !== visibleBefore) structure = true;
      for (const id of dirty) {
        const g = f.groups.get(id)!;
        g.items = undefined;
        if (g.node.count > 0) changed.push(g.node);
      }
      if (multi && (before.total !== f.counts.total || dirty.size)) changed.push(f.node);
    }
    if (this.#shownFolders().map((f) => f.node.id).join('\n') !== shownBefore) structure = true;
    if (structure) this.#onDidChange.fire(undefined);
    else if (changed.length) this.#onDidChange.fire(changed);
    this.#onDidFlush.fire();
  }

  /** The group's documents, from the store when not loaded or stale. */
  #load(f: FolderState, g: GroupState): DocNode[] {
    if (g.items) return g.items;
    const store = f.folder.store;
    if (!store) return [];
    const def = GROUPS[g.node.group];
    let rows: DocumentState[];
    try {
      // one page more than shown tells whether there is more
      rows = g.node.group === 'needsReview' ? this.#reviewQueue(f).slice(0, g.limit + 1) : store.listDocuments({ ...(def.stages ? { stages: def.stages } : {}), readiness: def.readiness, limit: g.limit + 1 });
    } catch {
      return []; // store closed during shutdown
    }
    g.truncated = rows.length > g.limit;
    if (g.truncated) rows.length = g.limit;
    const nodes = new Map<string, DocNode>();
    g.items = rows.map((doc) => {
      let n = g.nodes.get(doc.path);
      if (n) n.doc = doc;
      else n = { kind: 'doc', id: `${f.folder.key}|${g.node.group}|${doc.path}`, folderKey: f.folder.key, group: g.node.group, parent: g.node, doc };
      nodes.set(doc.path, n);
      return n;
    });
    g.nodes.clear();
    for (const [k, v] of nodes) g.nodes.set(k, v);
    return g.items;
  }
}
