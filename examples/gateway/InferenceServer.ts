import type { KeyObject } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { hashInput } from '../../src/gateway/buildEvent.ts';
import type { DecisionSource } from '../../src/gateway/DecisionReader.ts';
import type { Enforcer } from '../../src/gateway/enforce/Enforcer.ts';
import type { GatewayEmitter } from '../../src/gateway/GatewayEmitter.ts';
import type { ApiKeyTable } from './ApiKeyTable.ts';
import { parsePredictRequest } from './parsePredictRequest.ts';
import type { WeatherModel } from './WeatherModel.ts';

export interface InferenceServerOptions {
  model: WeatherModel;
  keys: ApiKeyTable;
  emitter: Pick<GatewayEmitter, 'emit'>;
  decisions: DecisionSource;
  enforcer: Pick<Enforcer, 'enforce'>;
  /** The deployment's input-hash key: the enforcer's deception is keyed by the same hash probewatch sees. */
  hmacKey: KeyObject;
  maxBodyBytes: number;
  registry: Registry;
  /** `/healthz`: `healthy` decides 200 or 503; the whole object is the body. */
  health: () => { healthy: boolean } & Record<string, unknown>;
  logger: Logger;
  now?: () => number;
}

/** The header carrying the API key. */
export const API_KEY_HEADER = 'x-api-key';

type ErrorCode = 'UNAUTHORIZED' | 'BAD_REQUEST' | 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'PAYLOAD_TOO_LARGE';

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, error: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error, message }, headers);
}

/** The request body as text, or undefined past `limit` bytes (the rest is drained, not kept). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size <= limit ? Buffer.concat(chunks).toString('utf8') : undefined));
    req.on('error', reject);
  });
}

/** The client address as the socket saw it, without the IPv4-mapped IPv6 prefix. */
function clientIp(req: IncomingMessage): string | null {
  const ip = req.socket.remoteAddress;
  return ip ? ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '') : null;
}

/**
 * The inference API: `POST /v1/models/<id>/predict` (raw feature values as
 * JSON, `x-api-key` header) answered `{label, class, probs}` after the
 * key's decision is enforced; `GET /v1/models/<id>` (the documented
 * features, ranges and classes); `/healthz`; `/metrics`. Every prediction —
 * answered, throttled or blocked — is emitted as one InferenceEvent with
 * the level applied; raw inputs stay here (only their keyed hash and a
 * sketch of the standardised features leave). The level is never shown to
 * the client beyond what the enforced answer itself says.
 */
export function createInferenceServer(options: InferenceServerOptions): Server {
  const now = options.now ?? Date.now;
  const { model, logger } = options;
  const requests = new Counter({
    name: 'gateway_requests_total',
    help: 'HTTP requests by route, status and the enforcement level applied (predictions only)',
    labelNames: ['route', 'status', 'level'],
    registers: [options.registry],
  });
  const modelPath = `/v1/models/${model.id}`;

  /** Answers one prediction; resolves with the level applied ('' when the request was refused before the model). */
  async function predict(req: IncomingMessage, res: ServerResponse, apiKey: string, tenant: string | null): Promise<string> {
    const body = await readBody(req, options.maxBodyBytes);
    if (body === undefined) {
      sendError(res, 413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${options.maxBodyBytes} bytes`);
      return '';
    }
    const parsed = parsePredictRequest(body);
    if (!parsed.ok) {
      sendError(res, 400, 'BAD_REQUEST', parsed.message);
      return '';
    }
    const { raw, canonical } = parsed.request;
    const x = model.standardize(raw);
    const started = performance.now();
    const answer = model.predict(x);
    const latencyMs = performance.now() - started;
    const level = options.decisions.decisionFor(apiKey, { tenant, clientIp: clientIp(req) }).enforce;
    const out = await options.enforcer.enforce({ apiKey, inputHash: hashInput(canonical, options.hmacKey), now: now() }, level, { probs: answer.probs });
    if (out.body) sendJson(res, out.status, { label: out.body.label, class: model.classes[out.body.label] ?? null, probs: out.body.probs }, out.headers);
    else sendJson(res, out.status, out.error ?? {}, out.headers);
    options.emitter.emit({
      apiKey,
      tenant,
      clientIp: clientIp(req),
      modelId: model.id,
      input: canonical,
      features: x,
      probs: out.body?.probs ?? [],
      label: out.body?.label ?? -1,
      status: out.status,
      latencyMs,
      enforcement: out.level,
      // What the model said: sent when the client got a truncated or deceived answer, so detection keeps reading the model.
      model: { probs: answer.probs },
    });
    return out.level;
  }

  /** Serves one request; resolves with the route name and the level applied ('' for anything but an answered prediction). */
  async function route(req: IncomingMessage, res: ServerResponse): Promise<[string, string]> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/metrics') {
      const name = path.slice(1);
      if (req.method !== 'GET') {
        sendError(res, 405, 'METHOD_NOT_ALLOWED', 'use GET', { allow: 'GET' });
        return [name, ''];
      }
      if (path === '/metrics') res.writeHead(200, { 'content-type': options.registry.contentType }).end(await options.registry.metrics());
      else {
        const health = options.health();
        sendJson(res, health.healthy ? 200 : 503, health);
      }
      return [name, ''];
    }
    const name = path === modelPath ? 'card' : path === `${modelPath}/predict` ? 'predict' : undefined;
    if (!name) {
      sendError(res, 404, 'NOT_FOUND', `no route ${path}; the model is at ${modelPath}`);
      return ['unknown', ''];
    }
    const method = name === 'predict' ? 'POST' : 'GET';
    if (req.method !== method) {
      sendError(res, 405, 'METHOD_NOT_ALLOWED', `use ${method}`, { allow: method });
      return [name, ''];
    }
    const header = req.headers[API_KEY_HEADER];
    const key = options.keys.authenticate(typeof header === 'string' ? header : undefined);
    if (!key) {
      sendError(res, 401, 'UNAUTHORIZED', `a valid API key is required in the ${API_KEY_HEADER} header`);
      return [name, ''];
    }
    if (name === 'card') {
      sendJson(res, 200, model.card());
      return [name, ''];
    }
    return [name, await predict(req, res, key.id, key.tenant)];
  }

  return createServer((req, res) => {
    route(req, res).then(
      ([name, level]) => requests.inc({ route: name, status: String(res.statusCode), level }),
      (err: unknown) => {
        logger.error({ err, route: (req.url ?? '').split('?')[0] }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL', message: 'internal error' });
        else res.end();
      },
    );
  });
}
