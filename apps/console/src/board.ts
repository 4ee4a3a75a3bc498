import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';
import type { Hono } from 'hono';

/** Path Bull Board is served under. */
export const BOARD_PATH = '/admin/queues';

/**
 * Bull Board for the given queues, as a Hono sub-app to mount at {@link BOARD_PATH}. Auth is the
 * caller's (see `adminAuth`).
 */
export function createBoard(queues: Queue[]): Hono {
  const serverAdapter = new HonoAdapter(serveStatic);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'pitcrew' } },
  });
  serverAdapter.setBasePath(BOARD_PATH);
  return serverAdapter.registerPlugin() as unknown as Hono;
}
