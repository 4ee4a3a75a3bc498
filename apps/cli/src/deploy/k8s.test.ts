import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DatabaseEnv, LogEnv } from '@pitcrew/core';
import { IngestEnv, SERVER_LIMITS } from '@pitcrew/ingest';
import { WorkerEnv } from '@pitcrew/worker';
import { CliEnv } from '../cli-env.ts';

/**
 * deploy/k8s rendered by `kubectl kustomize` (base and the example overlay), every object checked
 * against the Kubernetes OpenAPI schemas (kubernetes-models, prometheus-operator's CRD schemas
 * for the ServiceMonitor), then the invariants pitcrew's processes need: probe paths, the
 * preStop delay and grace periods against the shutdown timeouts, every variable known to an env
 * schema, secrets only by reference, images from the repository's Dockerfiles.
 */
const ROOT = resolve(import.meta.dirname, '../../../..');
const RENDERINGS = ['deploy/k8s/base', 'deploy/k8s/overlays/example'];
/** The Secret the operator creates (deploy/README.md); the repository holds none. */
const SECRET_NAME = 'pitcrew-secrets';

/** Constructors that validate each kind against its schema; an object of any other kind fails the test. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Images of the base, each built by one of the repository's Dockerfiles. */
const IMAGES: Record<string, string> = {
  'pitcrew-ingest': 'apps/ingest/Dockerfile',
  'pitcrew-worker': 'apps/worker/Dockerfile',
  pitcrew: 'Dockerfile',
};

/**
 * The console's own variables while its env schema is not in this tree (`pitcrew console` is
 * built on another branch, apps/console/src/env.ts there): once `@pitcrew/console` exports
 * `ConsoleEnv`, its keys are used instead, and this list no longer counts.
 */
const CONSOLE_PENDING = ['PITCREW_CONSOLE_PORT', 'PITCREW_CONSOLE_SESSION_SECRET'];

const keys = (...schemas: { shape: object }[]) => new Set(schemas.flatMap((s) => Object.keys(s.shape)));
const ALL_KEYS = keys(IngestEnv, WorkerEnv, CliEnv);

async function consoleKeys(): Promise<Set<string>> {
  // A variable specifier: the package may not export it yet, and tsc must not require it.
  const specifier = '@pitcrew/console';
  const mod = (await import(specifier).catch(() => ({}))) as { ConsoleEnv?: { shape: object } };
  return mod.ConsoleEnv ? keys(mod.ConsoleEnv) : new Set([...ALL_KEYS, ...CONSOLE_PENDING]);
}

/** Variables holding credentials: names of secrets, tokens and keys, and URLs that carry a password or are themselves secret. */
const secretVars = async () =>
  [...new Set([...ALL_KEYS, ...(await consoleKeys())])].filter((k) => /SECRET|TOKEN|PRIVATE_KEY|API_KEY|PASSWORD/.test(k) || ['DATABASE_URL', 'REDIS_URL', 'PITCREW_SLACK_WEBHOOK_URL'].includes(k));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: any;
}

/** The kubectl to render with: `KUBECTL`, else the one on PATH. */
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

function kubectlVersion(): string | null {
  const run = spawnSync(KUBECTL, ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (run.status !== 0) return null;
  return (JSON.parse(run.stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ?? 'unknown';
}
const version = kubectlVersion();
/**
 * Any kubectl renders them: the kustomizations use only fields kustomize has read since v2
 * (`bases`, `patchesStrategicMerge`), so Debian bookworm's kubectl 1.20 (kubernetes-client, which
 * .ci/run installs) works as well as current ones.
 */
const usable = version !== null;
if (!usable) console.warn(`[deploy/k8s] SKIPPED: ${KUBECTL} not found; install kubectl (Debian: apt-get install kubernetes-client) to render and validate deploy/k8s`);

function render(dir: string): K8sObject[] {
  const run = spawnSync(KUBECTL, ['kustomize', resolve(ROOT, dir)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout).map((doc) => {
    if (doc.errors.length) throw doc.errors[0]!;
    return doc.toJS() as K8sObject;
  });
}

const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const podSpec = (o: K8sObject) => o.spec.template.spec;
const container = (o: K8sObject, name: string) => {
  const found = podSpec(o).containers.find((c: any) => c.name === name);
  if (!found) throw new Error(`${o.kind} ${o.metadata.name}: no container ${name}`);
  return found;
};

/** The variables a container gets, with their values: its `env` (values or references) over its ConfigMaps' keys. */
function environment(objects: K8sObject[], c: any): Map<string, { value?: string; secretRef?: { name: string; key: string }; from: string }> {
  const vars = new Map<string, { value?: string; secretRef?: { name: string; key: string }; from: string }>();
  for (const source of c.envFrom ?? []) {
    if (!source.configMapRef) throw new Error(`container ${c.name}: envFrom other than a ConfigMap: ${JSON.stringify(source)}`);
    const map = find(objects, 'ConfigMap', source.configMapRef.name);
    for (const [name, value] of Object.entries(map.data ?? {})) vars.set(name, { value: value as string, from: `ConfigMap ${map.metadata.name}` });
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef) vars.set(e.name, { secretRef: e.valueFrom.secretKeyRef, from: 'secretKeyRef' });
    else if (e.valueFrom) throw new Error(`container ${c.name}: ${e.name} from ${JSON.stringify(e.valueFrom)}`);
    else vars.set(e.name, { value: e.value, from: 'env' });
  }
  return vars;
}

/** A variable's effective value in ms/number: what the container sets, else the schema default. */
function numberOf(vars: ReturnType<typeof environment>, schema: typeof IngestEnv | typeof WorkerEnv, name: string): number {
  const set = vars.get(name)?.value;
  const parsed = (schema.shape as Record<string, { parse(v: unknown): unknown }>)[name]!.parse(set);
  return parsed as number;
}

describe.skipIf(!usable).each(RENDERINGS)('kubectl kustomize %s', (dir) => {
  const objects = usable ? render(dir) : [];
  const ingest = () => find(objects, 'Deployment', 'pitcrew-ingest');
  const worker = () => find(objects, 'Deployment', 'pitcrew-worker');
  const consoleApp = () => find(objects, 'Deployment', 'pitcrew-console');
  const migrate = () => find(objects, 'Job', 'pitcrew-migrate');

  it('renders objects that each pass their Kubernetes schema (kubernetes-models)', () => {
    expect(objects.length).toBeGreaterThanOrEqual(10);
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind} ${object.metadata.name}: no schema to validate it with`).toBeDefined();
      expect(() => new Model!(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const k of ['Deployment/pitcrew-ingest', 'Service/pitcrew-ingest', 'PodDisruptionBudget/pitcrew-ingest', 'Deployment/pitcrew-worker', 'Service/pitcrew-worker-metrics', 'Deployment/pitcrew-console', 'Service/pitcrew-console', 'Job/pitcrew-migrate', 'ServiceMonitor/pitcrew']) {
      expect(kinds).toContain(k);
    }
  });

  it('ingest: /readyz readiness, /healthz liveness, a preStop delay, and a grace period that covers it and in-flight requests', () => {
    const d = ingest();
    const c = container(d, 'ingest');
    const vars = environment(objects, c);
    const port = c.ports.find((p: any) => p.name === 'http');
    expect(port.containerPort).toBe(numberOf(vars, IngestEnv, 'PORT'));
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const preStop: string[] = c.lifecycle.preStop.exec.command;
    expect(preStop[0]).toBe('sleep');
    const preStopSeconds = Number(preStop[1]);
    expect(preStopSeconds).toBeGreaterThanOrEqual(5);
    // The pod is gone from the endpoints before SIGTERM; then the drain and in-flight requests.
    const needed = preStopSeconds + numberOf(vars, IngestEnv, 'PITCREW_INGEST_DRAIN_MS') / 1_000 + SERVER_LIMITS.requestTimeout / 1_000;
    expect(podSpec(d).terminationGracePeriodSeconds).toBeGreaterThan(needed);
    // One pod at a time may be disrupted, and there are more than one.
    const pdb = find(objects, 'PodDisruptionBudget', 'pitcrew-ingest');
    expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
    expect(d.spec.replicas).toBeGreaterThan(pdb.spec.minAvailable);
    const service = find(objects, 'Service', 'pitcrew-ingest');
    expect(service.spec.selector).toEqual(d.spec.selector.matchLabels);
    expect(service.spec.ports[0].targetPort).toBe('http');
  });

  it('worker: a termination grace period above PITCREW_SHUTDOWN_TIMEOUT_MS, and the image\'s own health check as liveness', () => {
    const d = worker();
    const c = container(d, 'worker');
    const vars = environment(objects, c);
    const shutdownMs = numberOf(vars, WorkerEnv, 'PITCREW_SHUTDOWN_TIMEOUT_MS');
    expect(shutdownMs).toBeGreaterThan(0);
    // After the jobs' timeout the worker still closes Postgres and Redis: 5 s at least for that.
    expect(podSpec(d).terminationGracePeriodSeconds * 1_000).toBeGreaterThanOrEqual(shutdownMs + 5_000);
    const dockerfile = readFileSync(resolve(ROOT, IMAGES['pitcrew-worker']!), 'utf8');
    const healthcheck = JSON.parse(/^HEALTHCHECK .* CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(c.livenessProbe.exec.command).toEqual(healthcheck);
    const metricsPort = numberOf(vars, WorkerEnv, 'PITCREW_METRICS_PORT');
    expect(metricsPort).toBeGreaterThan(0);
    expect(c.ports.find((p: any) => p.name === 'metrics').containerPort).toBe(metricsPort);
  });

  it('console and migrate run the pitcrew CLI image\'s commands; the console is probed on /readyz and /healthz at its port', async () => {
    const c = container(consoleApp(), 'console');
    expect(c.args).toEqual(['console']);
    const port = Number(environment(objects, c).get('PITCREW_CONSOLE_PORT')?.value);
    expect(c.ports.find((p: any) => p.name === 'http').containerPort).toBe(port);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const m = container(migrate(), 'migrate');
    expect(m.args).toEqual(['migrate']);
    expect(podSpec(migrate()).restartPolicy).toBe('OnFailure');
    // The CLI image's entry point is `pitcrew`, so args are the command.
    expect(readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^ENTRYPOINT \["node", "apps\/cli\/bin\/pitcrew.mjs"\]$/m);
  });

  it('sets only variables that the env schemas of the process read', async () => {
    const schemas: Record<string, Set<string>> = {
      ingest: keys(IngestEnv),
      worker: keys(WorkerEnv),
      console: await consoleKeys(),
      migrate: keys(DatabaseEnv, LogEnv),
    };
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
      for (const c of podSpec(o).containers) {
        const known = schemas[c.name];
        expect(known, `${o.metadata.name}: container ${c.name} has no env schema`).toBeDefined();
        const unknown = [...environment(objects, c).entries()].filter(([name]) => !known!.has(name)).map(([name, v]) => `${name} (${v.from})`);
        expect(unknown, `${o.metadata.name}/${c.name}`).toEqual([]);
      }
    }
  });

  it('references secrets only: no Secret object, no credential in a ConfigMap or an env value, every credential a secretKeyRef', async () => {
    const SECRET_VARS = await secretVars();
    expect(SECRET_VARS).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL', 'GITHUB_WEBHOOK_SECRET', 'PITCREW_ADMIN_TOKEN', 'PITCREW_METRICS_TOKEN', 'GITHUB_APP_PRIVATE_KEY', 'LLM_API_KEY', 'PITCREW_CONSOLE_SESSION_SECRET']));
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const map of objects.filter((o) => o.kind === 'ConfigMap')) {
      expect(Object.keys(map.data ?? {}).filter((k) => SECRET_VARS.includes(k)), map.metadata.name).toEqual([]);
    }
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
      for (const c of podSpec(o).containers) {
        for (const [name, v] of environment(objects, c)) {
          if (SECRET_VARS.includes(name)) expect(v.secretRef, `${o.metadata.name}/${c.name}: ${name} from ${v.from}`).toMatchObject({ name: SECRET_NAME, key: name });
          if (v.secretRef) expect(v.secretRef.name).toBe(SECRET_NAME);
        }
      }
    }
  });

  it('the ServiceMonitor scrapes ingest\'s and every worker\'s /metrics with the metrics token', () => {
    const monitor = find(objects, 'ServiceMonitor', 'pitcrew');
    const matches = (labels: Record<string, string> = {}) =>
      monitor.spec.selector.matchExpressions.every((e: any) => e.operator === 'In' && e.values.includes(labels[e.key]));
    const services = objects.filter((o) => o.kind === 'Service' && matches(o.metadata.labels));
    expect(services.map((s) => s.metadata.name).sort()).toEqual(['pitcrew-ingest', 'pitcrew-worker-metrics']);
    expect(find(objects, 'Service', 'pitcrew-worker-metrics').spec.clusterIP).toBe('None');
    for (const service of services) {
      const scraped = monitor.spec.endpoints.filter((e: any) => service.spec.ports.some((p: any) => p.name === e.port));
      expect(scraped, service.metadata.name).toHaveLength(1);
      expect(scraped[0].path).toBe('/metrics');
      expect(scraped[0].authorization).toEqual({ type: 'Bearer', credentials: { name: SECRET_NAME, key: 'PITCREW_METRICS_TOKEN' } });
    }
    // The token Prometheus sends is the one ingest and the workers check.
    for (const d of [ingest(), worker()]) {
      expect(environment(objects, podSpec(d).containers[0]).get('PITCREW_METRICS_TOKEN')?.secretRef).toEqual({ name: SECRET_NAME, key: 'PITCREW_METRICS_TOKEN' });
    }
  });

  it('runs the images of the repository\'s Dockerfiles as their unprivileged user', () => {
    const overlay = dir.includes('overlays');
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
      const spec = podSpec(o);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of spec.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
        if (overlay) {
          // The example overlay points every image at a registry and a tag.
          expect(c.image, `${o.metadata.name}`).toMatch(/^registry\.example\.com\/pitcrew\/(ingest|worker|cli):\d+\.\d+\.\d+$/);
        } else {
          expect(Object.keys(IMAGES), `${o.metadata.name}`).toContain(c.image);
          // The `node` user of node:*-bookworm-slim is uid 1000.
          expect(readFileSync(resolve(ROOT, IMAGES[c.image]!), 'utf8')).toMatch(/^FROM node:24-bookworm-slim$[\s\S]*^USER node$/m);
        }
      }
    }
    if (overlay) for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('pitcrew');
  });
});
