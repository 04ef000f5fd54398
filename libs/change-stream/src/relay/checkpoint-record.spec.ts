import { EJSON, Timestamp } from 'bson';
import { everyBsonType } from '../../../../test/support/bson-types';
import { EMPTY_POSITION } from './checkpoint.store';
import { decodeCheckpointRecord, encodeCheckpointRecord } from './checkpoint-record';

const canonical = (value: unknown) => EJSON.stringify(value as never, { relaxed: false });

describe('checkpoint record', () => {
  it('round-trips a position whose resume token and snapshot id hold every BSON type', () => {
    const types = everyBsonType();
    const position = {
      resumeToken: { _data: '8263A1B2C3000000012B', ...types },
      startAfter: true,
      startAtOperationTime: null,
      snapshot: {
        runId: 'run-1',
        operationTime: new Timestamp({ t: 1_700_000_000, i: 9 }),
        done: ['a', 'b'],
        last: { coll: 'orders', id: types },
      },
      clusterTime: new Timestamp({ t: 1_700_000_001, i: 1 }),
    };
    const record = encodeCheckpointRecord('cdc-relay.checkpoints', 'shop.orders', 12, position);
    expect(record).toMatchObject({ topic: 'cdc-relay.checkpoints', key: 'shop.orders' });
    const decoded = decodeCheckpointRecord(Buffer.from(record.value));
    expect(decoded.epoch).toBe(12);
    expect(canonical(decoded.position)).toBe(canonical(position));
    // The same position encodes to the same bytes: a retry can tell its own commit by the value.
    expect(encodeCheckpointRecord('t', 'shop.orders', 12, decoded.position).value).toBe(record.value);
  });

  it('keeps an operation-time start and the empty fields as null', () => {
    const time = new Timestamp({ t: 5, i: 6 });
    const position = { ...EMPTY_POSITION, startAtOperationTime: time, clusterTime: time };
    const decoded = decodeCheckpointRecord(encodeCheckpointRecord('t', 's', 1, position).value);
    expect(decoded.position).toEqual(position);
    expect(decoded.position.startAtOperationTime).toBeInstanceOf(Timestamp);
  });

  it('refuses a value that is not a checkpoint record', () => {
    expect(() => decodeCheckpointRecord('{"hello":1}')).toThrow(/not a relay checkpoint record/);
  });
});
