import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { applyEnv, loadConfig } from '../../src/config/loadConfig.ts';
import { KAFKA_PASSWORD_ENV, KAFKA_USERNAME_ENV } from '../../src/pipeline/kafkaClient.ts';
import { REPO_ROOT } from './helpers.ts';

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  user?: string;
  volumes?: string[];
  read_only?: boolean;
  command?: string | string[];
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  profiles?: string[];
  configs?: { source: string; target: string }[];
  depends_on?: Record<string, { condition: string }> | string[];
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  configs: Record<string, { content: string }>;
};
const { kafka, redis, probewatch, prometheus, grafana } = compose.services;
const env = Object.fromEntries(Object.entries(probewatch.environment ?? {}).map(([k, v]) => [k, String(v)]));
const commandText = (s: Service) => [s.command ?? []].flat().join(' ');
/** The container path a repository folder is mounted at (bind mounts "./path:/target[:ro]"). */
const mountOf = (s: Service, repoPath: string) => s.volumes?.map((v) => v.split(':')).find(([source]) => source === `./${repoPath}`)?.[1];
/** Host-side port of a "[address:]host:container" mapping for `container`. */
const published = (s: Service, container: number) => s.ports?.map((p) => p.split(':').slice(-2)).find(([, c]) => Number(c) === container)?.[0];
/** Host-side address of that mapping (undefined: every interface). */
const publishedOn = (s: Service, container: number) => s.ports?.map((p) => p.split(':')).find((parts) => Number(parts.at(-1)) === container && parts.length === 3)?.[0];

describe('docker-compose.yml', () => {
  it('runs Apache Kafka in KRaft mode, without ZooKeeper', () => {
    expect(kafka.image).toMatch(/^apache\/kafka:\d/);
    const e = kafka.environment!;
    expect(String(e.KAFKA_PROCESS_ROLES).split(',').sort()).toEqual(['broker', 'controller']);
    expect(e.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(new RegExp(`^${e.KAFKA_NODE_ID}@kafka:\\d+$`));
    expect(Object.keys(compose.services).some((n) => /zookeeper/i.test(n))).toBe(false);
    expect(Object.keys(e).some((k) => /ZOOKEEPER/.test(k))).toBe(false);
    expect(published(kafka, 9092)).toBe('9092');
  });

  it('gives probewatch settings under the names the config loader reads', () => {
    const config = loadConfig(undefined, env);
    // Each variable is an override the loader maps onto a setting, or a credential read from the environment.
    for (const name of Object.keys(env)) {
      if (name === KAFKA_USERNAME_ENV || name === KAFKA_PASSWORD_ENV) continue;
      expect(Object.keys(applyEnv({}, { [name]: env[name] })), `${name} is read by the config loader`).toHaveLength(1);
    }
    expect(config.kafka.groupId).toBe(env.PROBEWATCH_KAFKA_GROUP);
    expect(config.logLevel).toBe(env.PROBEWATCH_LOG_LEVEL);
    expect(config.kafka.brokers).toEqual(['kafka:19092']);
    expect(config.redis.url).toBe('redis://redis:6379');
    expect(config.http.port).toBe(9464);
    // Inside the container every interface; on the host only loopback (below).
    expect(config.http.host).toBe('0.0.0.0');
    expect(loadConfig(undefined, {}).http.host).toBe('127.0.0.1');
    expect(config.policy.shadow).toBe(false);
  });

  it('points probewatch at the services it depends on, on the ports they listen on', () => {
    const config = loadConfig(undefined, env);
    const advertised = String(kafka.environment!.KAFKA_ADVERTISED_LISTENERS).split(',').map((l) => l.split('://')[1]);
    for (const broker of config.kafka.brokers) expect(advertised).toContain(broker);
    const redisUrl = new URL(config.redis.url);
    expect(compose.services[redisUrl.hostname]).toBe(redis);
    expect(published(redis, Number(redisUrl.port))).toBe('6379');
    expect(published(probewatch, config.http.port)).toBe(String(config.http.port));
    expect(publishedOn(probewatch, config.http.port)).toBe('127.0.0.1');
    expect(commandText(probewatch)).toBe('run');
    expect(Object.keys(probewatch.depends_on ?? {})).toEqual(expect.arrayContaining(['redis', 'kafka-topics']));
  });

  it('creates the configured topics, the decisions topic compacted', () => {
    const { topics } = loadConfig(undefined, env).kafka;
    const script = commandText(compose.services['kafka-topics']);
    for (const topic of Object.values(topics)) expect(script).toContain(`create ${topic}`);
    expect(script).toMatch(new RegExp(`create ${topics.decisions.replace('.', '\\.')} --config cleanup\\.policy=compact`));
    expect(script).toMatch(new RegExp(`create ${topics.groupEvidence.replace('.', '\\.')} --config cleanup\\.policy=compact`));
  });

  it('has an optional Prometheus scraping probewatch /metrics', () => {
    expect(prometheus.profiles).toEqual(['monitoring']);
    const source = prometheus.configs![0].source;
    const scrape = parse(compose.configs[source].content) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = scrape.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    expect(targets).toContain(`probewatch:${loadConfig(undefined, env).http.port}`);
  });

  it('loads the alert rules into Prometheus', () => {
    const rulesDir = mountOf(prometheus, 'deploy/prometheus/rules');
    expect(rulesDir).toBeDefined();
    const config = parse(compose.configs[prometheus.configs![0].source].content) as { rule_files: string[] };
    const ruleFiles = readdirSync(join(REPO_ROOT, 'deploy/prometheus/rules')).filter((f) => f.endsWith('.yml'));
    expect(ruleFiles.length).toBeGreaterThan(0);
    // Each rule file in the repository is matched by one of the configured globs, under the mount.
    const globs = config.rule_files.map((g) => new RegExp(`^${g.replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`));
    for (const f of ruleFiles) expect(globs.some((g) => g.test(`${rulesDir}/${f}`)), f).toBe(true);
  });

  it('has an optional Grafana with the data source and dashboards provisioned from deploy/grafana', () => {
    expect(grafana.profiles).toEqual(['monitoring']);
    expect(grafana.image).toMatch(/^grafana\/grafana:\d/);
    expect(published(grafana, 3000)).toBe('3000');
    expect(mountOf(grafana, 'deploy/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const dashboards = mountOf(grafana, 'deploy/grafana/dashboards');
    const providers = parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/provisioning/dashboards/probewatch.yaml'), 'utf8')) as { providers: { options: { path: string } }[] };
    expect(providers.providers.map((p) => p.options.path)).toEqual([dashboards]);
    const home = String(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH);
    expect(home.startsWith(`${dashboards}/`)).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'deploy/grafana/dashboards', home.slice(dashboards!.length + 1)))).toBe(true);
    // The provisioned data source is the compose Prometheus, on the port it listens on.
    const sources = parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as { datasources: { url: string }[] };
    const url = new URL(sources.datasources[0].url);
    expect(compose.services[url.hostname]).toBe(prometheus);
    expect(published(prometheus, Number(url.port))).toBeDefined();
  });

  it('runs probewatch from the image its Dockerfile builds: multi-stage, non-root, no npm at run time, no checkout mounted', () => {
    const build = typeof probewatch.build === 'string' ? { context: probewatch.build } : probewatch.build!;
    expect(build.context).toBe('.');
    const dockerfile = readFileSync(join(REPO_ROOT, build.dockerfile ?? 'Dockerfile'), 'utf8');
    const lines = dockerfile.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const stages = lines.map((l, i) => [l, i] as const).filter(([l]) => /^FROM /i.test(l));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = lines.slice(stages.at(-1)![1]);
    expect(runtime[0]).toMatch(/^FROM node:20[-\w.]* AS \w+$/i);
    // Dependencies are installed in the build stage only; the runtime copies them and deletes the package managers.
    expect(lines.slice(0, stages.at(-1)![1]).some((l) => /^RUN npm ci --omit=dev\b/.test(l))).toBe(true);
    expect(runtime.some((l) => /^RUN .*\bnpm (ci|install)\b/.test(l))).toBe(false);
    expect(runtime.some((l) => /^RUN rm -rf .*\/usr\/local\/bin\/npm\b.*\/usr\/local\/bin\/npx\b/.test(l))).toBe(true);
    expect(runtime.some((l) => /^COPY --from=\w+/.test(l))).toBe(true);
    const users = runtime.filter((l) => /^USER /i.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0', '0:0']).not.toContain(users.at(-1));
    expect(runtime.find((l) => /^ENTRYPOINT /.test(l))).toBe('ENTRYPOINT ["/app/bin/probewatch"]');
    // Every path the sources need at run time is copied into the image.
    for (const dir of ['bin', 'src', 'detectors', 'schemas']) expect(lines).toContain(`COPY ${dir} ./${dir}`);
    expect(probewatch.user ?? users.at(-1)).not.toBe('root');
    expect(probewatch.volumes ?? []).toEqual([]);
    expect(commandText(probewatch)).not.toMatch(/\bnpm\b/);
    expect(probewatch.read_only).toBe(true);
  });

  it('has an optional example gateway built from its own Dockerfile stage, on the same Kafka and Redis, secrets from the environment', () => {
    const gateway = compose.services['example-gateway'];
    expect(gateway.profiles).toEqual(['example']);
    const build = gateway.build as { context: string; target?: string };
    expect(build.context).toBe('.');
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^FROM node:20[-\\w.]* AS ${build.target}$`, 'm'));
    // Its stage copies what the gateway imports (its model is the quality benchmark's victim).
    for (const dir of ['examples', 'benchmarks/quality', 'src']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
    const genv = Object.fromEntries(Object.entries(gateway.environment ?? {}).map(([k, v]) => [k, String(v)]));
    expect(genv.PROBEWATCH_KAFKA_BROKERS).toBe(env.PROBEWATCH_KAFKA_BROKERS);
    expect(genv.PROBEWATCH_REDIS_URL).toBe(env.PROBEWATCH_REDIS_URL);
    for (const secret of ['PROBEWATCH_HMAC_KEY', 'GATEWAY_API_KEYS']) expect(genv[secret]).toMatch(/^\$\{\w+:\?/);
    expect(publishedOn(gateway, 8080)).toBe('127.0.0.1');
    expect(gateway.read_only).toBe(true);
  });
});
