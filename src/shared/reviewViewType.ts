/**
 * The Review panel's webview type, apart from the protocol (reviewProtocol.ts, zod): the first-load bundle
 * registers the panel serializer with it at activation and must not pull in zod for one string.
 */
export const REVIEW_VIEW_TYPE = 'extractionWorkbench.review';
