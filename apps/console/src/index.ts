// @pitcrew/console: the operator's console (issue 18). Its modules are exported from here as they land.
export { createPages, FAILURES_PER_PAGE, type PagesCsrf, type PagesDeps } from './pages/pages.tsx';
export { replayDelivery, retryFailure, type ReplayResult, type RetryResult } from './pages/actions.ts';
