import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, PublicationRow, PublicationStatus } from './database.ts';

/** What a sink did in one publish attempt. */
export interface PublicationOutcome {
  /** `published`: the object exists and says what the failure says now; `skipped`: nothing to publish (reason given). */
  status: Extract<PublicationStatus, 'published' | 'skipped'>;
  externalId?: string | null;
  externalUrl?: string | null;
  detail?: unknown;
  /** sha256 of what was sent, so an unchanged re-run can send nothing. */
  contentHash?: string | null;
  /** Why the sink skipped. */
  reason?: string;
}

/**
 * Runs one sink's publish attempt for one failure under a row lock on its `publications` row
 * (created on first use; unique (failure_id, sink)), and records the outcome: ids and hash on
 * success; attempts + 1 and `last_error` on failure, `failed` when `final` or when `permanent`
 * says the error will not pass by retrying. The lock is held for
 * the duration of `body` (its HTTP calls included), so two workers running the same publication
 * at once (a stalled job picked up elsewhere) serialize and the second sees the first's object
 * instead of creating another.
 *
 * @param body gets the row as it was before this attempt and the transaction (for further locks)
 * @returns the row after this attempt
 * @throws whatever `body` threw, after recording it
 */
export async function runPublication(
  db: Kysely<Database>,
  key: { failureId: string; sink: string; final: boolean; permanent?: (error: unknown) => boolean },
  body: (previous: PublicationRow, trx: Transaction<Database>) => Promise<PublicationOutcome>,
): Promise<PublicationRow> {
  const result = await db.transaction().execute(async (trx) => {
    await trx.insertInto('publications').values({ failure_id: key.failureId, sink: key.sink, external_id: null, external_url: null, detail: null, content_hash: null, last_error: null, published_at: null }).onConflict((oc) => oc.columns(['failure_id', 'sink']).doNothing()).execute();
    const previous = await trx.selectFrom('publications').selectAll().where('failure_id', '=', key.failureId).where('sink', '=', key.sink).forUpdate().executeTakeFirstOrThrow();
    try {
      const outcome = await body(previous, trx);
      const row = await trx
        .updateTable('publications')
        .set({
          status: outcome.status,
          ...(outcome.externalId !== undefined ? { external_id: outcome.externalId } : {}),
          ...(outcome.externalUrl !== undefined ? { external_url: outcome.externalUrl } : {}),
          ...(outcome.detail !== undefined ? { detail: JSON.stringify(outcome.detail) } : {}),
          ...(outcome.contentHash !== undefined ? { content_hash: outcome.contentHash } : {}),
          attempts: sql`attempts + 1`,
          last_error: outcome.status === 'skipped' ? (outcome.reason ?? null) : null,
          ...(outcome.status === 'published' ? { published_at: sql`now()` } : {}),
          updated_at: sql`now()`,
        })
        .where('id', '=', previous.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { ok: true as const, row };
    } catch (error) {
      await trx
        .updateTable('publications')
        .set({
          attempts: sql`attempts + 1`,
          last_error: String(error instanceof Error ? `${error.name}: ${error.message}` : error).slice(0, 2_000),
          ...(key.final || key.permanent?.(error) ? { status: 'failed' as const } : {}),
          updated_at: sql`now()`,
        })
        .where('id', '=', previous.id)
        .execute();
      return { ok: false as const, error };
    }
  });
  if (!result.ok) throw result.error;
  return result.row;
}

/** Every publication of a failure, by sink. */
export async function listPublications(db: Kysely<Database>, failureId: string): Promise<PublicationRow[]> {
  return db.selectFrom('publications').selectAll().where('failure_id', '=', failureId).orderBy('sink').execute();
}
