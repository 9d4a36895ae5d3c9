/** The Documents view's id (package.json contributes.views), apart so the first-load bundle can create the view. */
export const DOCUMENTS_VIEW_ID = 'extractionWorkbench.documents';
