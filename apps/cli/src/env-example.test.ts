import { readFileSync } from 'node:fs';
import { parseEnv as parseDotenv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseEnv } from '@pitcrew/core';
import { ConsoleEnv } from '@pitcrew/console';
import { IngestEnv } from '@pitcrew/ingest';
import { WorkerEnv } from '@pitcrew/worker';
import { CliEnv } from './cli-env.ts';

const example = parseDotenv(readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8'));
/** Variables read by `pitcrew start` itself rather than by a process schema. */
const LOCAL_ONLY = ['PITCREW_DATA_DIR'];

describe('.env.example', () => {
  it('lists every variable the ingest, worker and console schemas read, and nothing else', () => {
    const known = new Set([...Object.keys(IngestEnv.shape), ...Object.keys(WorkerEnv.shape), ...Object.keys(ConsoleEnv.shape), ...Object.keys(CliEnv.shape), ...LOCAL_ONLY]);
    expect(Object.keys(example).filter((k) => !known.has(k))).toEqual([]);
    expect([...known].filter((k) => !(k in example))).toEqual([]);
  });

  it('parses as valid configuration once the required URLs are set', () => {
    const env = { ...example, REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u:p@127.0.0.1/db', PITCREW_ADMIN_TOKEN: 'an-admin-token-0123456789' };
    expect(() => parseEnv(IngestEnv, env)).not.toThrow();
    expect(() => parseEnv(WorkerEnv, env)).not.toThrow();
    expect(() => parseEnv(CliEnv, env)).not.toThrow();
    expect(() => parseEnv(ConsoleEnv, env)).not.toThrow();
  });
});
