export { BadCursorError, type RepoFilter } from './shared.ts';
export { listFailures, getFailureDetail, type FailureListFilter, type FailureListItem, type FailureDetail } from './failures.ts';
export { type ExecutionView, type ExecutionTotals } from './executions.ts';
export { findDelivery, type DeliveryView } from './deliveries.ts';
export { type PublicationView } from './publications.ts';
export { spendByDay, type SpendFilter, type SpendRow, type BudgetLedgerRow } from './spend.ts';
export { listIncidents, getIncident, type IncidentListFilter, type IncidentView, type IncidentFailure } from './incidents.ts';
