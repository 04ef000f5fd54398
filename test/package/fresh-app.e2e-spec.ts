/**
 * The package as a NestJS team installs it: `npm pack` of libs/change-stream, a fresh application in
 * a temporary folder outside the workspace (test/package/fresh-app), the tarball and its peers from
 * npm, `tsc --strict`, the handler's unit test through `nest-change-stream/testing`, and the app
 * booted against the test ground. Run for the lowest and the highest NestJS major of the package's
 * peerDependencies. The peers come from the workspace's npm cache (`--prefer-offline`); NestJS 10 is
 * not in it, so that install asks the npm registry.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { spawnChild } from '../support/child-processes';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { createFreshApp, installedVersion, outsideEnv, packLibrary, removeFreshApp, run } from './fresh-app';

jest.setTimeout(600_000);

const NEST_MAJORS = [10, 11];

describe('the packed nest-change-stream in a fresh NestJS app', () => {
  const ground = useGround({ redis: 1 });
  let packDir: string;
  let tarball: string;

  beforeAll(async () => {
    packDir = mkdtempSync(join(tmpdir(), 'nest-change-stream-pack-'));
    ({ tarball } = await packLibrary(packDir));
  });
  afterAll(() => rmSync(packDir, { recursive: true, force: true }));

  it('packs the compiled library and its docs, no test code, stand-ins or benches', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const outside = files.filter(
      (file) =>
        !/^package\/(dist\/.+\.(js|js\.map|d\.ts)|README\.md|CHANGELOG\.md|LICENSE|package\.json)$/.test(
          file,
        ),
    );
    expect(outside).toEqual([]);
    expect(
      files.filter((file) =>
        /\.(spec|int-spec|e2e-spec)\.|standins?\/|bench\/|fixtures?\/|\/test\//i.test(file),
      ),
    ).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'package/dist/index.d.ts',
        'package/dist/testing/index.d.ts',
        // NOTE: started by path (new Worker(join(__dirname, ...))): no import would pull it in.
        'package/dist/publisher/producer-thread.worker.js',
      ]),
    );
  });

  describe.each(NEST_MAJORS)('with NestJS %i', (major) => {
    let app: string;
    beforeAll(async () => {
      app = await createFreshApp(tarball, major);
    });
    afterAll(() => removeFreshApp(app));

    it(`installs NestJS ${major}`, () => {
      expect(installedVersion(app, '@nestjs/core').split('.')[0]).toBe(String(major));
    });

    it('compiles with tsc --strict', async () => {
      const tsc = await run(
        process.execPath,
        ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--strict'],
        app,
      );
      expect(tsc.output).toBe('');
      expect(tsc.code).toBe(0);
    });

    it('refuses a path the package does not export, at compile time and at run time', async () => {
      const tsc = await run(
        process.execPath,
        ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.deep-import.json'],
        app,
      );
      expect(tsc.code).not.toBe(0);
      expect(tsc.output).toContain(
        "error TS2307: Cannot find module 'nest-change-stream/dist/change-stream.module'",
      );
      const node = await run(process.execPath, ['-e', "require('nest-change-stream/dist/index.js')"], app);
      expect(node.code).not.toBe(0);
      expect(node.output).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
    });

    it('passes the handler unit test written with nest-change-stream/testing', async () => {
      const test = await run(process.execPath, ['--test', 'dist/order.handlers.test.js'], app);
      expect(test.output).toMatch(/# pass 1\b/);
      expect(test.code).toBe(0);
    });

    it("gives npm's peer warning for a peer outside the supported range", async () => {
      // NOTE: mongodb, since only this package constrains it: npm names the package's own range.
      const install = await run('npm', ['install', '--prefer-offline', '--dry-run', 'mongodb@5'], app);
      expect(install.output).toContain('ERESOLVE overriding peer dependency');
      expect(install.output).toMatch(/peer mongodb@"\^6\.20\.0" from nest-change-stream@0\./);
    });

    it('boots against the test ground and hands a change written to MongoDB to both handlers', async () => {
      const { mongoUrl, kafkaBrokers, redisUrls, createTopic } = ground();
      const db = uniqueName('fresh');
      await createTopic(`cdc.${db}.orders`, 1);
      const client = await MongoClient.connect(mongoUrl);
      let child: ChildProcess | undefined;
      let output = '';
      try {
        // NOTE: the stream starts at the insert's own operation time (mongod's cluster time, which
        // the stand-in keeps too), so the insert may come before the app has opened its stream.
        const session = client.startSession();
        const orderId = `order-${major}`;
        await client
          .db(db)
          .collection('orders')
          .insertOne({ _id: orderId as never, status: 'new', total: 42 }, { session });
        const startSeconds = session.operationTime!.high;
        await session.endSession();
        child = spawnChild(process.execPath, ['dist/main.js'], {
          cwd: app,
          env: {
            ...outsideEnv(),
            MONGO_URL: mongoUrl,
            KAFKA_BROKERS: kafkaBrokers.join(','),
            REDIS_URLS: redisUrls.join(','),
            SHOP_DB: db,
            GROUP_ID: uniqueName('fresh_group'),
            STREAM_START_MS: String(startSeconds * 1000),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout!.on('data', (chunk) => (output += chunk));
        child.stderr!.on('data', (chunk) => (output += chunk));
        const running = child;
        const state = await waitFor(
          () => {
            if (running.exitCode !== null) return 'exited';
            const handled =
              output.includes(`HANDLED single ${orderId} 42`) && output.includes(`HANDLED batch ${orderId}`);
            return handled ? 'handled' : null;
          },
          { timeoutMs: 120_000, intervalMs: 200, what: 'the order to reach both handlers' },
        ).catch((error: Error) => {
          throw new Error(`${error.message}; app output:\n${output}`);
        });
        if (state === 'exited') throw new Error(`the app exited (${running.exitCode}):\n${output}`);
      } finally {
        await stopApp(child);
        await client.close();
      }
    });
  });
});

/** SIGTERM (the app drains), then waits for it to exit. */
async function stopApp(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}
