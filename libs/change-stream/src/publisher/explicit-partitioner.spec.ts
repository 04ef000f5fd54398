import type { PartitionerArgs } from 'kafkajs';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import { explicitPartitioner } from './explicit-partitioner';

const args = (headers: Record<string, string> = {}): PartitionerArgs => ({
  topic: 't',
  partitionMetadata: [0, 1, 2, 3].map((partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  })),
  message: { key: 'k', value: 'v', headers },
});

describe('explicitPartitioner', () => {
  it('sends a message with the partition header there, and others where the base partitioner says', () => {
    const partition = explicitPartitioner(() => () => 1)();
    expect(partition(args({ [CHANGE_EVENT_HEADERS.partition]: '3' }))).toBe(3);
    expect(partition(args())).toBe(1);
    expect(partition(args({ [CHANGE_EVENT_HEADERS.partition]: 'x' }))).toBe(1);
  });
});
