/**
 * The kubelet's probes as the e2e tests replay them: the probe settings read from
 * `k8s/deployment.yaml`, and a prober that GETs an endpoint every period, as the kubelet does.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** One container probe of the manifest (the kubelet's defaults where the manifest leaves one out). */
export interface ManifestProbe {
  path: string;
  periodSeconds: number;
  failureThreshold: number;
  timeoutSeconds: number;
}

export const DEPLOYMENT_MANIFEST = resolve(__dirname, '..', '..', 'k8s', 'deployment.yaml');

/** The kubelet's defaults (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Probe). */
const KUBELET_DEFAULTS = { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 };

/**
 * The `livenessProbe` or `readinessProbe` of the manifest's first container. A targeted parse (no
 * YAML library is a dependency): the probe's block is the lines indented deeper than its key.
 */
export function manifestProbe(kind: 'livenessProbe' | 'readinessProbe', file = DEPLOYMENT_MANIFEST) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((line) => line.trim() === `${kind}:`);
  if (start < 0) throw new Error(`${file} has no ${kind}`);
  const indent = lines[start].search(/\S/);
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() && line.search(/\S/) <= indent) break;
    if (!line.trim().startsWith('#')) block.push(line);
  }
  const text = block.join('\n');
  const number = (key: keyof typeof KUBELET_DEFAULTS) => {
    const match = new RegExp(`\\b${key}:\\s*(\\d+)`).exec(text);
    return match ? Number(match[1]) : KUBELET_DEFAULTS[key];
  };
  const path = /\bpath:\s*([^\s,}]+)/.exec(text)?.[1];
  if (!path) throw new Error(`${kind} of ${file} has no httpGet path`);
  return {
    path,
    periodSeconds: number('periodSeconds'),
    failureThreshold: number('failureThreshold'),
    timeoutSeconds: number('timeoutSeconds'),
  } satisfies ManifestProbe;
}

/** One answer of a probe: the kubelet counts 200-399 within `timeoutSeconds` as success. */
export interface ProbeAnswer {
  at: number;
  code: number | null;
  ok: boolean;
  body: string;
}

/**
 * GETs `baseUrl + probe.path` every `probe.periodSeconds / scale` seconds until stopped, recording each
 * answer. The interval is the probe's period (what the kubelet does), not a wait for a condition.
 */
export class Prober {
  readonly answers: ProbeAnswer[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly baseUrl: string,
    readonly probe: ManifestProbe,
    scale: number,
  ) {
    this.timer = setInterval(() => this.track(this.once()), (probe.periodSeconds * 1000) / scale);
    this.track(this.once());
  }

  /** Answers recorded at or after `since` (ms since the epoch). */
  since(since: number): ProbeAnswer[] {
    return this.answers.filter((a) => a.at >= since);
  }

  async stop(): Promise<ProbeAnswer[]> {
    clearInterval(this.timer);
    await Promise.all(this.pending);
    return this.answers;
  }

  private track(probe: Promise<void>): void {
    this.pending.add(probe);
    void probe.finally(() => this.pending.delete(probe));
  }

  private async once(): Promise<void> {
    const at = Date.now();
    try {
      const response = await fetch(`${this.baseUrl}${this.probe.path}`, {
        signal: AbortSignal.timeout(this.probe.timeoutSeconds * 1000),
      });
      const body = await response.text();
      this.answers.push({
        at,
        code: response.status,
        ok: response.status >= 200 && response.status < 400,
        body,
      });
    } catch (error) {
      this.answers.push({ at, code: null, ok: false, body: (error as Error).message });
    }
  }
}
