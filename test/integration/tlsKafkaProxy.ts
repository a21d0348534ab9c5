/**
 * A TLS endpoint for the Kafka mock cluster, which speaks only plaintext:
 * one TLS listener per broker (mutual TLS: a client certificate signed by
 * the test CA is required), each piping to its broker. Kafka clients dial
 * the addresses the brokers advertise, so the ports in Metadata and
 * FindCoordinator responses are rewritten to the TLS listeners' ports (the
 * host stays 127.0.0.1, so no length changes). Covers the non-flexible
 * versions KafkaJS uses (Metadata v0–v8, FindCoordinator v0–v2).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, createServer } from 'node:tls';
import { onCleanup } from './helpers.ts';

const METADATA = 3;
const FIND_COORDINATOR = 10;

/** PEM files of a throw-away PKI made with openssl: a CA, a server certificate for 127.0.0.1, a client certificate, and a rogue CA with its own client. */
export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueCa: string;
  rogueClientCert: string;
  rogueClientKey: string;
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'pw-pki-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) => ssl('req', '-x509', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-days', '2', '-subj', `/CN=${name}`);
  const leaf = (name: string, caName: string, ext: string) => {
    ssl('req', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`);
    writeFileSync(p(`${name}.ext`), ext);
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.crt`), '-CAkey', p(`${caName}.key`), '-CAcreateserial', '-out', p(`${name}.crt`), '-days', '2', '-extfile', p(`${name}.ext`));
  };
  ca('pw-test-ca');
  ca('pw-rogue-ca');
  leaf('server', 'pw-test-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'pw-test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf('rogue-client', 'pw-rogue-ca', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: p('pw-test-ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    rogueCa: p('pw-rogue-ca.crt'),
    rogueClientCert: p('rogue-client.crt'),
    rogueClientKey: p('rogue-client.key'),
  };
}

export interface TlsKafkaProxy {
  /** Bootstrap list of the TLS listeners. */
  brokers: string[];
  /** Handshakes refused (no or untrusted client certificate). */
  refused: number;
  /** Connections that completed mutual TLS. */
  accepted: number;
}

/** Starts one mutual-TLS listener per broker of `brokers` (host:port, loopback); closed after the file. */
export async function startTlsKafkaProxy(brokers: readonly string[], pki: TestPki): Promise<TlsKafkaProxy> {
  const portMap = new Map<number, number>();
  const stats: TlsKafkaProxy = { brokers: [], refused: 0, accepted: 0 };
  const sockets = new Set<Socket>();
  for (const broker of brokers) {
    const upstreamPort = Number(broker.split(':').at(-1));
    const server = createServer(
      { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: [readFileSync(pki.ca)], requestCert: true, rejectUnauthorized: true },
      (client: TLSSocket) => {
        stats.accepted++;
        const upstream = connect(upstreamPort, '127.0.0.1');
        sockets.add(client).add(upstream);
        pipeFrames(client, upstream, portMap);
      },
    );
    server.on('tlsClientError', () => stats.refused++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    portMap.set(upstreamPort, port);
    stats.brokers.push(`127.0.0.1:${port}`);
    onCleanup(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
  }
  return stats;
}

/** Pipes Kafka frames both ways, remembering each request's API and version to rewrite broker ports in the responses. */
function pipeFrames(client: TLSSocket, upstream: Socket, portMap: Map<number, number>): void {
  const pending = new Map<number, { apiKey: number; version: number }>();
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
  frames(client, (frame) => {
    pending.set(frame.readInt32BE(8), { apiKey: frame.readInt16BE(4), version: frame.readInt16BE(6) });
    upstream.write(frame);
  });
  frames(upstream, (frame) => {
    const req = pending.get(frame.readInt32BE(4));
    pending.delete(frame.readInt32BE(4));
    if (req) rewritePorts(frame, req.apiKey, req.version, portMap);
    client.write(frame);
  });
}

/** Calls `onFrame` with each whole size-prefixed frame (size included). */
function frames(socket: Socket, onFrame: (frame: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const size = buf.readInt32BE(0);
      onFrame(Buffer.from(buf.subarray(0, 4 + size)));
      buf = buf.subarray(4 + size);
    }
  });
}

/** In place: the port of every broker in a Metadata response, the coordinator's in a FindCoordinator response. */
function rewritePorts(frame: Buffer, apiKey: number, version: number, portMap: Map<number, number>): void {
  let at = 8; // size, correlation id
  const swapPort = () => {
    const mapped = portMap.get(frame.readInt32BE(at));
    if (mapped !== undefined) frame.writeInt32BE(mapped, at);
    at += 4;
  };
  const skipString = () => {
    const len = frame.readInt16BE(at);
    at += 2 + Math.max(0, len);
  };
  if (apiKey === METADATA && version <= 8) {
    if (version >= 3) at += 4; // throttle_time_ms
    const count = frame.readInt32BE(at);
    at += 4;
    for (let i = 0; i < count; i++) {
      at += 4; // node_id
      skipString(); // host
      swapPort();
      if (version >= 1) skipString(); // rack
    }
  } else if (apiKey === FIND_COORDINATOR && version <= 2) {
    if (version >= 1) at += 4; // throttle_time_ms
    at += 2; // error_code
    if (version >= 1) skipString(); // error_message
    at += 4; // node_id
    skipString(); // host
    swapPort();
  }
}
