// Entry point of the ingest container image (apps/ingest/Dockerfile bundles this file); the same
// as `pitcrew ingest` without the CLI's other commands and their dependencies.
import { runUntilSignal } from '@pitcrew/core';
import { startIngest } from '../main.ts';

await runUntilSignal(() => startIngest(process.env));
