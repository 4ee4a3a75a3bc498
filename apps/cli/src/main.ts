import { exitOnStartError } from '@pitcrew/core';
import { loadDotEnv } from './env-file.ts';

// `./.env` first: the program's option defaults and every command read the environment.
loadDotEnv();
const { program } = await import('./cli.ts');
try {
  await program.parseAsync(process.argv);
} catch (error) {
  exitOnStartError(error);
}
