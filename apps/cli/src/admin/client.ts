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

/** A small HTTP client for the admin API; JSON in and out. */
export interface AdminClient {
  readonly baseUrl: string;
  /** GET `/api<path>` with the defined query parameters. @throws {AdminApiError} */
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  /** POST `/api<path>` with a JSON body. @throws {AdminApiError} */
  post<T>(path: string, body?: unknown): Promise<T>;
}

/**
 * Admin API client over `fetch`, sending the admin token as a bearer token. Error answers and
 * unreachable servers become an {@link AdminApiError} whose message tells what to check.
 */
export function createAdminClient(options: { baseUrl: string; token: string | undefined }): AdminClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  async function call<T>(method: string, path: string, query?: Record<string, string | number | undefined>, body?: unknown): Promise<T> {
    const url = new URL(`${baseUrl}/api${path}`);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new AdminApiError(0, 'unreachable', `cannot reach the admin API at ${baseUrl}: ${(error as Error).message}; is ingest running? (PITCREW_API_URL)`, { cause: error });
    }
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
          ? ' (set PITCREW_ADMIN_TOKEN to the token ingest runs with)'
          : response.status === 404 && answer.error === 'not_found' && /no route/.test(answer.reason ?? '')
            ? ' (ingest serves /api only when PITCREW_ADMIN_TOKEN is set)'
            : '';
      throw new AdminApiError(response.status, answer.error ?? 'http_error', `${response.status} ${answer.error ?? response.statusText}: ${answer.reason ?? text.slice(0, 200)}${hint}`);
    }
    return json as T;
  }
  return {
    baseUrl,
    get: (path, query) => call('GET', path, query),
    post: (path, body) => call('POST', path, undefined, body ?? {}),
  };
}
