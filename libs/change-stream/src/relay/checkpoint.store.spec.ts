import type { Collection } from 'mongodb';
import { CheckpointStore, type CheckpointDocument } from './checkpoint.store';

describe('CheckpointStore.takeEpoch', () => {
  const store = () => {
    const collection = {
      findOneAndUpdate: jest.fn(async () => ({ _id: 's', epoch: 4 })),
    };
    const checkpoints = new CheckpointStore(
      collection as unknown as Collection<CheckpointDocument>,
      's',
      'replica-a',
    );
    return { checkpoints, collection };
  };

  it('takes the next epoch while the term is still valid', async () => {
    const { checkpoints, collection } = store();
    await expect(checkpoints.takeEpoch(() => true)).resolves.toMatchObject({ epoch: 4 });
    expect(collection.findOneAndUpdate).toHaveBeenCalledTimes(1);
  });

  it('does not $inc the epoch when the term expired before the write (a replica paused after winning)', async () => {
    const { checkpoints, collection } = store();
    await expect(checkpoints.takeEpoch(() => false)).resolves.toBeNull();
    expect(collection.findOneAndUpdate).not.toHaveBeenCalled();
  });
});
