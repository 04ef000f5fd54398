import type { ChangeContext } from '../handlers/change-context';
import { handler, message, setup } from './change-dispatcher.fixtures';

describe('ChangeContext.receivedAt', () => {
  const received = (offset: number, eventId: string, at?: number) => ({
    ...message(offset, eventId),
    ...(at === undefined ? {} : { receivedAt: at }),
  });

  it("is the message's receipt time, in a shared transaction and alone", async () => {
    const seen: Array<[string, Date | undefined]> = [];
    const h = handler('h', async (event, ctx: ChangeContext) => {
      seen.push([event._id._data, ctx.receivedAt]);
    });
    const { dispatcher } = setup(h);
    await dispatcher.dispatchBatch([received(1, 'e1', 1_000), received(2, 'e2', 2_000)]);
    await dispatcher.dispatch(received(3, 'e3', 3_000));
    await dispatcher.dispatch(received(4, 'e4'));
    expect(seen).toEqual([
      ['e1', new Date(1_000)],
      ['e2', new Date(2_000)],
      ['e3', new Date(3_000)],
      ['e4', undefined],
    ]);
  });
});
