// Entry point of the console container image (apps/console/Dockerfile bundles this file); the same
// as `pitcrew console` without the CLI's other commands and their dependencies.
import { runUntilSignal } from '@pitcrew/core';
import { startConsole } from '../main.ts';

await runUntilSignal(() => startConsole(process.env));
