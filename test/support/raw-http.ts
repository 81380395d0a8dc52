/**
 * One HTTP request through node:http, for hostile tests: the path goes out exactly as written
 * (fetch would normalise `..`, encoded bytes and a Host header), and the answer comes back with
 * its raw headers, whatever the status.
 */
import http from 'node:http';

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function rawRequest(base: string, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({ host: url.hostname, port: url.port, path: urlPath, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Whether `text` is the TAMS error body (`type`, `summary`, `time`). */
export function isTamsErrorBody(text: string): boolean {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    return typeof body.type === 'string' && typeof body.summary === 'string' && typeof body.time === 'string';
  } catch {
    return false;
  }
}
