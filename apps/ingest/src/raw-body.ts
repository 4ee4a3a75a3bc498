import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { IngestError } from './errors.ts';

/**
 * The request body's bytes, at most `maxBytes`: 413 from `Content-Length` before
 * reading, or as soon as the streamed bytes pass the limit (reading stops; nothing beyond the
 * limit is buffered).
 *
 * On @hono/node-server it reads the Node `IncomingMessage` (`c.env.incoming`) directly. Hono's
 * `bodyLimit` and `c.req.text()` would make the adapter build a WHATWG `Request` with a web
 * stream body for every delivery, which the ingest profile showed as the largest single cost of
 * the hot path (about a tenth of CPU under load); elsewhere (tests calling `app.request`, other
 * runtimes) it reads `c.req.raw.body` with the same limit.
 *
 * @param maxBytes largest body accepted, in bytes (`PITCREW_MAX_BODY_BYTES`)
 * @throws {IngestError} 413 `payload_too_large`
 */
export async function readRawBody(c: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(c.req.header('content-length'));
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && typeof incoming.on === 'function' && !incoming.readableEnded) {
    return new Promise<Buffer>((resolve, reject) => new NodeBodyReader(incoming, maxBytes, resolve, reject));
  }
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(maxBytes: number): IngestError {
  return new IngestError(413, 'payload_too_large', `body is larger than ${maxBytes} bytes (PITCREW_MAX_BODY_BYTES)`);
}

/**
 * Collects one `IncomingMessage`'s bytes. A class with bound listeners rather than closures made
 * per request: tsx (esbuild `keepNames`) wraps every named closure in a `__name` call, which the
 * ingest profile showed at about 2% of CPU under load.
 */
class NodeBodyReader {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly onData = this.data.bind(this);
  private readonly onEnd = this.end.bind(this);
  private readonly onError = this.error.bind(this);

  constructor(
    private readonly incoming: IncomingMessage,
    private readonly maxBytes: number,
    private readonly resolve: (bytes: Buffer) => void,
    private readonly reject: (error: Error) => void,
  ) {
    incoming.on('data', this.onData);
    incoming.on('end', this.onEnd);
    incoming.on('error', this.onError);
  }

  private data(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.cleanup();
      this.incoming.pause();
      this.reject(tooLarge(this.maxBytes));
      return;
    }
    this.chunks.push(chunk);
  }

  private end(): void {
    this.cleanup();
    this.resolve(this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size));
  }

  private error(error: Error): void {
    this.cleanup();
    this.reject(error);
  }

  private cleanup(): void {
    this.incoming.off('data', this.onData);
    this.incoming.off('end', this.onEnd);
    this.incoming.off('error', this.onError);
  }
}
