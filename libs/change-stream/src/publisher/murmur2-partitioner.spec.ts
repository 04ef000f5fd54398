import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { seededRandom } from '../utils/seeded-random.fixtures';
import { murmur2, murmur2Partitioner } from './murmur2-partitioner';

// NOTE: kafkajs' own murmur2 (Long arithmetic), the reference the Java client agrees with.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (
  key: Buffer | string,
) => number;

const args = (key: Buffer | string | null, partitions: number): PartitionerArgs => ({
  topic: 't',
  partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: partitionId === 1 ? -1 : 0,
    replicas: [0],
    isr: [0],
  })),
  message: { key, value: 'v' },
});

describe('murmur2', () => {
  it("hashes every length and byte value as kafkajs' (and the Java client's) murmur2 does", () => {
    const next = seededRandom(20261203);
    for (let i = 0; i < 5_000; i++) {
      const bytes = Buffer.from(
        Array.from({ length: Math.floor(next() * 80) }, () => Math.floor(next() * 256)),
      );
      expect(murmur2(bytes)).toBe(kafkajsMurmur2(bytes));
    }
  });

  it('hashes the relay keys (canonical EJSON of documentKey) as kafkajs does', () => {
    for (const key of [
      '{"_id":{"$numberInt":"1"}}',
      '{"_id":{"$oid":"65f0a1b2c3d4e5f607182930"}}',
      '',
      'é😀',
    ]) {
      expect(murmur2(Buffer.from(key))).toBe(kafkajsMurmur2(key));
    }
  });
});

describe('murmur2Partitioner', () => {
  it("puts a keyed message on the partition kafkajs' DefaultPartitioner chooses, available or not", () => {
    const ours = murmur2Partitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const next = seededRandom(7);
    for (let i = 0; i < 2_000; i++) {
      const key = `{"_id":{"$numberInt":"${Math.floor(next() * 1e9)}"}}`;
      for (const partitions of [1, 3, 12]) {
        expect(ours(args(Buffer.from(key), partitions))).toBe(theirs(args(key, partitions)));
      }
    }
  });

  it('keeps a partition named on the message, and spreads messages without a key over available partitions', () => {
    const partition = murmur2Partitioner();
    expect(partition({ ...args('k', 4), message: { key: 'k', value: 'v', partition: 2 } })).toBe(2);
    const chosen = new Set(Array.from({ length: 40 }, () => partition(args(null, 4))));
    expect([...chosen].sort()).toEqual([0, 2, 3]);
  });
});
