import type { MongoClient } from 'mongodb';
import { FencedOutError } from 'nest-change-stream';
import {
  CheckpointStore,
  EMPTY_POSITION,
  type CheckpointDocument,
} from '../../libs/change-stream/src/relay/checkpoint.store';
import { MongoLease, type LeaseDocument } from '../../libs/change-stream/src/leader/mongo.lease';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { connectMongo } from './support';

describe('epoch-fenced checkpoints and the MongoDB lease', () => {
  const ground = useGround({ mongo: true, kafka: false });
  let mongo: MongoClient;
  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterAll(async () => {
    await mongo?.close();
  });
  const checkpoints = () =>
    mongo.db(uniqueName('lib')).collection<CheckpointDocument>('change_stream_checkpoints');

  it('gives each new leader the next epoch and rejects a checkpoint write with a stale epoch', async () => {
    const collection = checkpoints();
    const old = new CheckpointStore(collection, 'orders', 'replica-a');
    const next = new CheckpointStore(collection, 'orders', 'replica-b');
    const first = await old.takeEpoch(() => true);
    expect(first).toEqual({ epoch: 1, position: EMPTY_POSITION });
    await old.save(1, { ...EMPTY_POSITION, resumeToken: { _data: 'aa' } });

    const second = (await next.takeEpoch(() => true))!;
    expect(second.epoch).toBe(2);
    expect(second.position.resumeToken).toEqual({ _data: 'aa' });

    await expect(old.save(1, { ...EMPTY_POSITION, resumeToken: { _data: 'bb' } })).rejects.toBeInstanceOf(
      FencedOutError,
    );
    expect((await next.read())?.resumeToken).toEqual({ _data: 'aa' });
    await next.save(2, { ...EMPTY_POSITION, resumeToken: { _data: 'cc' } });
    expect(await next.read()).toMatchObject({ epoch: 2, resumeToken: { _data: 'cc' }, leader: 'replica-b' });
  });

  it('MongoLease: one holder until expiry or release; renewal by a deposed holder is rejected', async () => {
    const leases = mongo.db(uniqueName('lib')).collection<LeaseDocument>('change_stream_leases');
    const a = new MongoLease(leases, 'orders', 1_000, 'a');
    const b = new MongoLease(leases, 'orders', 1_000, 'b');
    expect(await a.acquire()).toBe(true);
    expect(a.validUntil).toBeGreaterThan(Date.now());
    expect(await b.acquire()).toBe(false);
    expect(await a.renew()).toBe(true);
    await a.release();
    expect(await b.acquire()).toBe(true);
    // `a` cannot renew a lease it no longer holds; once b's expires, a can take it again.
    expect(await a.renew()).toBe(false);
    await waitFor(() => a.acquire(), { what: 'b’s lease to expire', timeoutMs: 5_000, intervalMs: 100 });
    expect(await b.renew()).toBe(false);
    expect(b.validUntil).toBe(0);
  });
});
