import { hc, type ClientResponse } from 'hono/client';
import type { SuccessStatusCode } from 'hono/utils/http-status';
import type { AdminApi } from '@pitcrew/console';

/** An error answer of the admin API (`{error, reason}`), or no answer at all. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'AdminApiError';
  }
}

/** hono's client of the admin API, typed by the console's routes (`AdminApi` of `@pitcrew/console`). */
export type AdminRpc = ReturnType<typeof hc<AdminApi>>;

/** The body of a call's 2xx answers, as the route declares it (its zod response schema). */
export type SuccessBody<R> = R extends ClientResponse<infer T, infer S, 'json'> ? (S extends SuccessStatusCode ? T : never) : never;

/** A client of the console's admin API. */
export interface AdminClient {
  /** The console's base URL (`PITCREW_API_URL`), without a trailing slash. */
  readonly baseUrl: string;
  /**
   * The typed routes of `/api`: `api.failures.$get({query})`, `api.failures[':id'].$get({param})`,
   * `api.failures[':id'].retry.$post({param, json})`, … Inputs and answers are the routes' zod
   * schemas, so a renamed field fails the CLI's type check.
   */
  readonly api: AdminRpc;
  /**
   * Awaits a call of {@link api}.
   *
   * @returns the 2xx answer's JSON, typed by the route
   * @throws {AdminApiError} on an error answer (`{error, reason}`, with a hint for 401 and 404) or
   *   when the console cannot be reached
   */
  call<R extends ClientResponse<unknown, number, string>>(request: Promise<R>): Promise<SuccessBody<R>>;
}

/**
 * The admin API client: hono's `hc` over `fetch`, sending the admin token as a bearer token. Error
 * answers and unreachable servers become an {@link AdminApiError} whose message tells what to check.
 */
export function createAdminClient(options: { baseUrl: string; token: string | undefined }): AdminClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const api = hc<AdminApi>(`${baseUrl}/api`, {
    headers: { accept: 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    fetch: async (...args: Parameters<typeof fetch>) => {
      try {
        return await fetch(...args);
      } catch (error) {
        throw new AdminApiError(0, 'unreachable', `cannot reach the admin API at ${baseUrl}: ${(error as Error).message}; is the console running? (PITCREW_API_URL, the console's URL)`, { cause: error });
      }
    },
  });
  return {
    baseUrl,
    api,
    async call(request) {
      const response = (await request) as unknown as Response;
      const text = await response.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = null;
      }
      if (!response.ok) {
        const answer = (json ?? {}) as { error?: string; reason?: string };
        const hint =
          response.status === 401
            ? ' (set PITCREW_ADMIN_TOKEN to the token the console runs with)'
            : response.status === 404 && answer.error === 'not_found' && /no route/.test(answer.reason ?? '')
              ? ' (is PITCREW_API_URL the console\'s URL? ingest serves no /api)'
              : '';
        throw new AdminApiError(response.status, answer.error ?? 'http_error', `${response.status} ${answer.error ?? response.statusText}: ${answer.reason ?? text.slice(0, 200)}${hint}`);
      }
      return json as never;
    },
  };
}

/** A number option as the query string carries it; `undefined` stays unset. */
export function num(value: number | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}
