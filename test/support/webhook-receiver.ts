/**
 * A real HTTP receiver for webhook deliveries on loopback: records every POST (headers, parsed
 * JSON body, arrival time) and answers as `respond` says: a status, after a delay, never, a
 * redirect, or a body of any size written in chunks.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: http.IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
  atMs: number;
}

export type Answer =
  | { status: number; delayMs?: number; location?: string; bodyBytes?: number; /** `Connection: close` (the connection ends after this answer). */ close?: boolean }
  | 'hang';

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** How the next POSTs are answered (default 200 at once). */
  respond: (received: Received, index: number) => Answer;
  /** Bytes of answer bodies written so far (an enormous body is cut off by the reader). */
  bytesWritten: number;
  /** Resolves once `count` POSTs have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<WebhookReceiver> {
  const waiters: { count: number; resolve: () => void }[] = [];
  const hanging = new Set<http.ServerResponse>();
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    respond: () => ({ status: 200 }),
    bytesWritten: 0,
    async waitFor(count, timeoutMs = 15_000) {
      if (receiver.received.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`receiver got ${receiver.received.length} of ${count} POSTs in ${timeoutMs} ms`)), timeoutMs);
          waiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
        });
      }
      return receiver.received;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const received: Received = { headers: req.headers, body: text === '' ? undefined : JSON.parse(text), atMs: Date.now() };
      const index = receiver.received.push(received) - 1;
      for (const w of waiters.filter((w) => receiver.received.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const answer = receiver.respond(received, index);
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      const send = (): void => {
        if (answer.location !== undefined) res.setHeader('location', answer.location);
        if (answer.close === true) res.setHeader('connection', 'close');
        res.statusCode = answer.status;
        if (answer.bodyBytes === undefined) {
          res.end();
          return;
        }
        let left = answer.bodyBytes;
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const write = (): void => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            receiver.bytesWritten += n;
            if (!res.write(chunk.subarray(0, n))) {
              res.once('drain', write);
              return;
            }
          }
          res.end();
        };
        res.on('error', () => undefined);
        write();
      };
      if (answer.delayMs === undefined) send();
      else setTimeout(send, answer.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
