import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SiemRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the server answered. */
  status: number;
}

/**
 * A real local HTTP server standing in for a SIEM's webhook: it answers the
 * n-th request with `statuses[n]` (the last one repeats), so a test can
 * make it fail first and succeed later. Close it when done.
 */
export async function startSiemServer(statuses: number[]) {
  const received: SiemRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const status = statuses[Math.min(received.length, statuses.length - 1)];
      received.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=in-url`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
