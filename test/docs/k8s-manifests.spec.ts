/**
 * Keeps the example manifests honest: the probes point at the endpoints meant for them (never at
 * /health, whose DOWN pages someone), and every metric the alert rules name is one the library
 * registers (a renamed metric would otherwise leave an alert that never fires).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { ChangeStreamMetrics, type ChangeStreamInspector } from 'nest-change-stream';
import { manifestProbe } from '../e2e/probes';

const root = resolve(__dirname, '..', '..');

describe('k8s manifests', () => {
  it('probes liveness on /health/live and readiness on /health/ready', () => {
    expect(manifestProbe('livenessProbe').path).toBe('/health/live');
    expect(manifestProbe('readinessProbe').path).toBe('/health/ready');
  });

  it('compose checks readiness, not /health', () => {
    const compose = readFileSync(resolve(root, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain("fetch('http://localhost:3000/health/ready')");
    expect(compose).not.toMatch(/localhost:3000\/health'/);
  });

  it('alerts only on metrics the library registers', () => {
    const rules = readFileSync(resolve(root, 'k8s', 'prometheus-rules.yaml'), 'utf8');
    const named = new Set(
      [...rules.matchAll(/^\s*expr:.*$/gm)].flatMap((line) => line[0].match(/\bchange_stream_\w+/g) ?? []),
    );
    const registry = new Registry();
    new ChangeStreamMetrics({} as ChangeStreamInspector, { registry });
    const registered = new Set(registry.getMetricsAsArray().map((m) => m.name));
    expect(named.size).toBeGreaterThan(5);
    expect([...named].filter((name) => !registered.has(name))).toEqual([]);
  });
});
