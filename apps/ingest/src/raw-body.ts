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
  const tooLarge = () =>
    new IngestError(413, 'payload_too_large', `body is larger than ${maxBytes} bytes (PITCREW_MAX_BODY_BYTES)`);
  const declared = Number(c.req.header('content-length'));
  if (declared > maxBytes) throw tooLarge();
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && typeof incoming.on === 'function' && !incoming.readableEnded) {
    return readNodeStream(incoming, maxBytes, tooLarge);
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
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

function readNodeStream(incoming: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        incoming.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
  });
}
