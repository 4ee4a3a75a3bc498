export * from './config.ts';
export * from './failure.ts';
export * from './queue.ts';
export * from './db/database.ts';
export * from './db/migrate.ts';
export * from './db/repository.ts';
