import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // Admin API: failures newest first with keyset pages on (received_at, id).
  await db.schema
    .createIndex('failures_received_id_idx')
    .on('failures')
    .expression(sql`received_at desc, id desc`)
    .execute();
  // Incident detail and the failure count per listed incident.
  await db.schema
    .createIndex('failures_incident_idx')
    .on('failures')
    .column('incident_id')
    .where(sql.ref('incident_id'), 'is not', null)
    .execute();
  // Spend per UTC day: executions by start time.
  await db.schema.createIndex('executions_started_idx').on('executions').column('started_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('executions_started_idx').execute();
  await db.schema.dropIndex('failures_incident_idx').execute();
  await db.schema.dropIndex('failures_received_id_idx').execute();
}
