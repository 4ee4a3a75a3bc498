// Entry point of the worker container image (apps/worker/Dockerfile bundles this file); the same
// as `pitcrew worker` without the CLI's other commands and their dependencies.
import { runUntilSignal } from '@pitcrew/core';
import { startWorker } from '../main.ts';

await runUntilSignal(() => startWorker(process.env));
