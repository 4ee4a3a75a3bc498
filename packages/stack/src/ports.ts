import { createServer } from 'node:net';

/**
 * Finds a TCP port that is free right now by listening on port 0 and closing again.
 * Another process may still take it before the caller binds it, so callers that own the
 * server retry on "address in use".
 *
 * @param host interface to probe (default `127.0.0.1`)
 * @returns a port number in the ephemeral range
 * @throws {Error} when the probe socket cannot listen
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err) => reject(new Error(`cannot find a free port on ${host}`, { cause: err })));
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no port assigned on ${host}`))));
    });
  });
}
