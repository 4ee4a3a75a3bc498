export { BadCursorError, type RepoFilter } from './shared.ts';
export { listFailures, getFailureDetail, type FailureListFilter, type FailureListItem, type FailureDetail } from './failures.ts';
export { type ExecutionView, type ExecutionTotals } from './executions.ts';
export { findDelivery, type DeliveryView } from './deliveries.ts';
export { type PublicationView } from './publications.ts';
export { spendByDay, type SpendFilter, type SpendRow, type BudgetLedgerRow } from './spend.ts';
export { listIncidents, getIncident, type IncidentListFilter, type IncidentView, type IncidentFailure } from './incidents.ts';
export { FIX_ATTEMPT_STATUSES, listFixes, getFix, type FixAttemptView, type FixFailure, type FixListItem, type FixListFilter } from './fixes.ts';
export { summarizeFixes, type FixSummary, type FixSummaryFilter } from './fix-summary.ts';
