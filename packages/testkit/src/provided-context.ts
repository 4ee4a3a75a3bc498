/** Name of the migrated template database that each test database is cloned from. */
export const TEMPLATE_DATABASE = 'pitcrew_template';

declare module 'vitest' {
  /** Values `global-setup.ts` provides to every test file (read them with `inject`). */
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the run's redis-server (no AOF); isolate with a prefix. */
    redisUrl: string;
    /** URL of the `postgres` database of the run's Postgres, as its superuser. */
    postgresAdminUrl: string;
    /** Name of the migrated template database ({@link TEMPLATE_DATABASE}). */
    postgresTemplate: string;
  }
}
