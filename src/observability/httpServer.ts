import { createHash, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/** The bearer token's variable (or its `…_FILE`). */
export const HTTP_TOKEN_ENV = 'PROBEWATCH_HTTP_TOKEN';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); the bound port is logged and returned. */
  port: number;
  registry: Registry;
  /** Current health; `healthy` decides 200 or 503, the whole object is the JSON body. */
  health: () => { healthy: boolean } & Record<string, unknown>;
  logger: Logger;
  /** When set, every request needs `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
}

export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `GET /metrics` (Prometheus text format) and `GET /healthz` (JSON; 200 when
 * consuming, 503 otherwise), behind a bearer token when one is given.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((err: unknown) => {
      options.logger.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ host: options.host, port, auth: options.token ? 'bearer' : 'none' }, 'http server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  if (options.token !== undefined && !authorized(req.headers.authorization, options.token)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="probewatch"', 'content-type': 'text/plain' }).end('unauthorized\n');
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const body = await options.registry.metrics();
    res.writeHead(200, { 'content-type': options.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
  } else if (path === '/healthz') {
    const health = options.health();
    res.writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(health));
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

/** Compares digests, so neither the token's length nor its bytes leak through timing. */
function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(m[1]), digest(token));
}
