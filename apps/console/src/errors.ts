import { JsonError } from '@pitcrew/ingest';

/**
 * An HTTP error of the console whose response body is JSON `{error, reason}`: `error` a stable
 * machine code (`bad_request`, `not_found`, `conflict`, `unauthorized`, `csrf`, …), `reason` a
 * sentence for the person reading it. `createConsoleApp`'s error handler (`answerJsonErrors`)
 * renders it.
 */
export class ConsoleError extends JsonError {}
