/** Review commands: open the Review panel for the active file (palette) or a document of the tree. */
import type { ReviewPanel } from '../review/reviewPanel';
import type { ReviewPanels } from '../review/reviewPanels';
import { notify } from './register';
import { activeResource, docTargets, isUri } from './targets';
import type { CommandServices, CommandSpec } from './types';

export const ReviewCommandIds = {
  openReview: 'extractionWorkbench.openReview',
  reviewSideBySide: 'extractionWorkbench.reviewSideBySide',
} as const;

export function reviewCommands(s: CommandServices, review: ReviewPanels): CommandSpec[] {
  type Target = { folderKey: string; path: string };
  const fromTree = (arg: unknown, args: unknown): Target | undefined => {
    const node = docTargets(arg, args, s.treeView)[0];
    return node ? { folderKey: node.folderKey, path: node.doc.path } : undefined;
  };
  const fromUri = (uri: unknown): Target | undefined => {
    if (!isUri(uri)) return undefined;
    const folder = s.runs.folderOf(uri);
    const rel = folder?.relativePath(uri);
    return folder && rel ? { folderKey: folder.key, path: rel } : undefined;
  };
  const open = async (t: Target | undefined): Promise<ReviewPanel | undefined> => {
    const folder = t && s.runs.get(t.folderKey);
    if (!t || !folder) {
      notify('info', 'Open a document of the workspace (or pick one in the Documents view) to review its extraction.');
      return undefined;
    }
    return review.open(folder, t.path);
  };
  return [
    {
      // palette / editor: the given or active file; a tree node when invoked from the tree
      id: ReviewCommandIds.openReview,
      run: (arg?: unknown, args?: unknown) => open(isUri(arg) ? fromUri(arg) : arg !== undefined ? fromTree(arg, args) : (fromUri(activeResource()) ?? fromTree(undefined, undefined))),
    },
    { id: ReviewCommandIds.reviewSideBySide, run: (arg?: unknown, args?: unknown) => open(isUri(arg) ? fromUri(arg) : fromTree(arg, args)) },
  ];
}
