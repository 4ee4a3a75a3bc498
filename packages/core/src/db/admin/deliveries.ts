import type { DeliveryRow } from '../database.ts';
import type { Db } from '../database.ts';
import { iso } from './shared.ts';

/** A stored delivery without its payload. */
export interface DeliveryView {
  /** `X-GitHub-Delivery` GUID. */
  id: string;
  event: string;
  action: string | null;
  /** `accepted` (it created the failure) or `merged`. */
  outcome: string;
  /** ISO 8601. */
  receivedAt: string;
  /** ISO 8601. */
  recordedAt: string;
}

const DELIVERY_VIEW_COLUMNS = ['id', 'event', 'action', 'outcome', 'received_at', 'recorded_at'] as const;

function toDeliveryView(d: Pick<DeliveryRow, (typeof DELIVERY_VIEW_COLUMNS)[number]>): DeliveryView {
  return {
    id: d.id,
    event: d.event,
    action: d.action,
    outcome: d.outcome,
    receivedAt: iso(d.received_at)!,
    recordedAt: iso(d.recorded_at)!,
  };
}

/** The stored deliveries of a failure, in the order they were recorded. */
export async function listDeliveryViews(db: Db, failureId: string): Promise<DeliveryView[]> {
  const rows = await db
    .selectFrom('deliveries')
    .select(DELIVERY_VIEW_COLUMNS)
    .where('failure_id', '=', failureId)
    .orderBy('recorded_at')
    .orderBy('id')
    .execute();
  return rows.map(toDeliveryView);
}

/** A stored delivery with its raw payload, for replay; `undefined` when unknown. */
export async function findDelivery(
  db: Db,
  id: string,
): Promise<(DeliveryView & { failureId: string | null; payload: unknown }) | undefined> {
  const d = await db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  if (!d) return undefined;
  return { ...toDeliveryView(d), failureId: d.failure_id, payload: d.payload };
}
