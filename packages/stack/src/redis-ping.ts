import { connect } from 'node:net';

/**
 * Sends an inline `PING` to a Redis server over raw TCP (no client library).
 *
 * @param port TCP port
 * @param host host name or address (default `127.0.0.1`)
 * @param timeoutMs give up after this many milliseconds (default 2000)
 * @returns true when the server answered `+PONG`, false on any error, refusal or timeout
 */
export function pingRedis(port: number, host = '127.0.0.1', timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.once('close', () => finish(false));
  });
}
