import type { PublicationRow } from '../database.ts';
import { listPublications } from '../publications.ts';
import type { Db } from '../database.ts';
import { iso, outText } from './shared.ts';

/** Where a failure's result was published (one row per sink; see the worker's publish stage). */
export interface PublicationView {
  /** `check-run`, `pr-comment`, `issue` or `slack`. */
  sink: string;
  /** `pending`, `published`, `skipped` or `failed`. */
  status: string;
  /** The object on the other side: check run id, issue number, …; `null` before the first publish. */
  externalId: string | null;
  externalUrl: string | null;
  /** Publish job attempts over every round. */
  attempts: number;
  /** Error of the last failed attempt (a sink's HTTP error may quote a URL or header), or why it was skipped. */
  lastError: string | null;
  /** ISO 8601; `null` before the first publish. */
  publishedAt: string | null;
  /** ISO 8601. */
  updatedAt: string;
}

/** A `publications` row as the admin API shows it; its last error passes the outgoing boundary. */
function toPublicationView(p: PublicationRow): PublicationView {
  return {
    sink: p.sink,
    status: p.status,
    externalId: p.external_id,
    externalUrl: p.external_url,
    attempts: p.attempts,
    lastError: outText(p.last_error),
    publishedAt: iso(p.published_at),
    updatedAt: iso(p.updated_at)!,
  };
}

/** Every publication of a failure, by sink. */
export async function listPublicationViews(db: Db, failureId: string): Promise<PublicationView[]> {
  return (await listPublications(db, failureId)).map(toPublicationView);
}
