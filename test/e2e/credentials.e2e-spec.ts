/**
 * No credential of the orders service reaches its output: started as a real process (src/main.ts)
 * with a user and password in MONGO_URL and a password in each REDIS_URLS entry, neither its log
 * (stdout and stderr), nor GET /health, /metrics or / may contain them; nor, when start-up fails
 * (a wrong password, an unreachable server, an unparsable URI, a refused variable), the error it
 * exits with, which still names the server.
 *
 * MongoDB is the stand-in with a user: it checks SCRAM-SHA-256 credentials and answers a wrong
 * password with AuthenticationFailed (18), as mongod does. Redis: two redis-servers started with
 * --requirepass (a Redlock quorum of two). Kafka: the run's broker (the service has no SASL variables;
 * the library's SASL and TLS settings are covered by libs/change-stream/src/utils/redact.spec.ts and
 * test/relay/credentials.int-spec.ts).
 */
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnChild } from '../support/child-processes';
import { ORDERS_TOPIC } from '../../src/config/change-stream.config';
import { useGround } from '../support/ground';
import { freePort } from '../support/ports';
import { startRedis, stopRedis, type RedisInstance } from '../support/redis';
import { waitFor } from '../support/wait';
import { startMongoStandin, type MongoStandin } from '../../tools/mongo-standin';

const ROOT = resolve(__dirname, '../..');
const USER = 'ordersSvcUser';
const MONGO_PASSWORD = 'S3cretPass';
const WRONG_PASSWORD = 'Wr0ngPassw0rd';
const REDIS_PASSWORDS = ['RedisPw1x', 'RedisPw2y'];
const SECRETS = [USER, MONGO_PASSWORD, WRONG_PASSWORD, ...REDIS_PASSWORDS];

/** One process of the service, its whole output kept in memory. */
interface Service {
  url: string;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process exited and its output was read to the end. */
  exited: Promise<number | null>;
}

async function startService(env: NodeJS.ProcessEnv): Promise<Service> {
  const port = await freePort();
  const child = spawnChild(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      APP_ROLE: 'all',
      LEASE_TTL_MS: '2000',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const closed = (stream: NodeJS.ReadableStream) =>
    new Promise<void>((done) => stream.on('data', (chunk) => (output += chunk)).once('end', done));
  const streams = Promise.all([closed(child.stdout!), closed(child.stderr!)]);
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    exited: Promise.all([exit, streams]).then(([code]) => code),
  };
}

/** The secrets `text` contains (none, for the test to pass). */
const leaked = (text: string) => SECRETS.filter((secret) => text.includes(secret));

describe('credentials never reach the output of the service (e2e)', () => {
  // NOTE: the orders topic exists before the service starts, as in the other e2e specs: a worker
  // cannot subscribe to a topic that does not exist yet (not what this spec is about).
  const ground = useGround({ mongo: false, kafka: { topics: [ORDERS_TOPIC] } });
  let mongo: MongoStandin;
  let redis: RedisInstance[];
  let baseEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    mongo = await startMongoStandin({ users: { [USER]: MONGO_PASSWORD } });
    redis = [...(await startRedis(1, REDIS_PASSWORDS[0])), ...(await startRedis(1, REDIS_PASSWORDS[1]))];
    baseEnv = {
      KAFKA_BROKERS: ground().kafkaBrokers.join(','),
      // Both shapes: a password alone, and the ACL user "default" with its password.
      REDIS_URLS: [
        `redis://:${REDIS_PASSWORDS[0]}@127.0.0.1:${redis[0].port}`,
        `redis://default:${REDIS_PASSWORDS[1]}@127.0.0.1:${redis[1].port}/0`,
      ].join(','),
    };
  });

  afterAll(async () => {
    await stopRedis(redis ?? []);
    await mongo?.stop();
  });

  const mongoUrl = (password: string, host = `127.0.0.1:${mongo.port}`, query = 'replicaSet=rs0') =>
    `mongodb://${USER}:${password}@${host}/?${query}&authSource=admin`;

  it('prints no credential while running: logs, /health, /metrics, /', async () => {
    const service = await startService({ ...baseEnv, MONGO_URL: mongoUrl(MONGO_PASSWORD) });
    try {
      // Leading proves every credential worked: MongoDB (SCRAM) and both Redis servers (AUTH).
      const health = await waitFor(
        async () => {
          const text = await (await fetch(`${service.url}/health`)).text();
          return text.includes('"leadership":"leader"') ? text : null;
        },
        { timeoutMs: 45_000, what: 'the service to lead with its credentials' },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; its output:\n${service.output()}`);
      });
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      const info = await (await fetch(`${service.url}/`)).text();
      expect(leaked(health)).toEqual([]);
      expect(leaked(metrics)).toEqual([]);
      expect(leaked(info)).toEqual([]);
    } finally {
      service.child.kill('SIGTERM');
    }
    // Nest drains on SIGTERM, then ends the process with that signal again (no exit code).
    await service.exited;
    const output = service.output();
    // The servers are still named, without their credentials.
    expect(output).toContain(`127.0.0.1:${mongo.port}`);
    expect(output).toContain(`127.0.0.1:${redis[0].port}`);
    expect(leaked(output)).toEqual([]);
  }, 90_000);

  describe('start-up failures exit with the reason, without the credential', () => {
    const runs: Record<string, { code: number | null; output: string }> = {};
    let closedPort: number;

    beforeAll(async () => {
      closedPort = await freePort();
      const cases: Record<string, NodeJS.ProcessEnv> = {
        wrongPassword: { MONGO_URL: mongoUrl(WRONG_PASSWORD) },
        unreachable: {
          MONGO_URL: mongoUrl(MONGO_PASSWORD, `127.0.0.1:${closedPort}`, 'serverSelectionTimeoutMS=200'),
        },
        // The driver's parser quotes the whole URI in its message ("Protocol and host list are required in ...").
        unparsable: { MONGO_URL: `mongodb://${USER}:${MONGO_PASSWORD}@` },
        // Refused by the service's own check of the variable.
        badScheme: { MONGO_URL: `mongo://${USER}:${MONGO_PASSWORD}@127.0.0.1:${mongo.port}` },
      };
      // Concurrently: each but the last retries MongoDB for about 30 s (MongooseModule's retries).
      await Promise.all(
        Object.entries(cases).map(async ([name, env]) => {
          const service = await startService({ ...baseEnv, ...env });
          runs[name] = { code: await service.exited, output: service.output() };
        }),
      );
    }, 120_000);

    it('a wrong password: AuthenticationFailed, and neither password printed', () => {
      expect(runs.wrongPassword.code).toBe(1);
      expect(runs.wrongPassword.output).toMatch(/Authentication failed/);
      expect(runs.wrongPassword.output).toContain(`127.0.0.1:${mongo.port}`);
      expect(leaked(runs.wrongPassword.output)).toEqual([]);
    });

    it('an unreachable server: the error names it, without the credential', () => {
      expect(runs.unreachable.code).toBe(1);
      const lastLine = runs.unreachable.output.trim().split('\n').pop()!;
      expect(lastLine).toContain(`127.0.0.1:${closedPort}`);
      expect(leaked(runs.unreachable.output)).toEqual([]);
    });

    it('an unparsable URI: the parser quotes it redacted', () => {
      expect(runs.unparsable.code).toBe(1);
      expect(runs.unparsable.output).toMatch(/host list are required/);
      expect(leaked(runs.unparsable.output)).toEqual([]);
    });

    it('a MONGO_URL with another scheme: refused, quoted redacted', () => {
      expect(runs.badScheme.code).toBe(1);
      expect(runs.badScheme.output).toMatch(/MONGO_URL must be a mongodb:\/\/ or mongodb\+srv:\/\/ URI/);
      expect(leaked(runs.badScheme.output)).toEqual([]);
    });
  });
});
