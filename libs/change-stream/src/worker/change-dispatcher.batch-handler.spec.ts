import { batchWriter, message, outcomes, setup, writer } from './change-dispatcher.fixtures';

describe('ChangeDispatcher.dispatchBatch with a batch handler (@ChangeBatchHandler)', () => {
  it('gets the wanted events of the run in one call, in the transaction of every marker', async () => {
    const b = batchWriter('b', [], { operationTypes: new Set(['insert']) });
    const h = writer('h');
    const { dispatcher, executor } = setup(b.registration, h.registration);
    const result = await dispatcher.dispatchBatch([
      message(1, 'e1'),
      message(2, 'e2', 'delete'),
      message(3, 'e3'),
    ]);
    expect(result).toMatchObject({ shared: 3, fellBack: false });
    expect(b.calls).toEqual([{ eventIds: ['e1', 'e3'], attempt: 1, lastAttempt: false }]);
    expect(result.reports.map((r) => r.handlers.map((x) => [x.handlerId, x.outcome]))).toEqual([
      [
        ['b', 'applied'],
        ['h', 'applied'],
      ],
      [
        ['b', 'filtered'],
        ['h', 'applied'],
      ],
      [
        ['b', 'applied'],
        ['h', 'applied'],
      ],
    ]);
    expect(executor.transactions).toEqual([
      { shared: true, markers: ['h/e1', 'h/e2', 'h/e3', 'b/e1', 'b/e3'], committed: true },
    ]);
    expect(executor.committed.sort()).toEqual(['b:e1', 'b:e3', 'h:e1', 'h:e2', 'h:e3']);
  });

  it('retries each event alone when the batch call throws: the others applied once, the bad one dead-lettered', async () => {
    const b = batchWriter('b', ['e2']);
    const { dispatcher, executor, sink } = setup(b.registration);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2'), message(3, 'e3')]);
    expect(result.fellBack).toBe(true);
    expect(outcomes(result.reports)).toEqual([['applied'], ['dead-lettered'], ['applied']]);
    expect(b.calls).toEqual([
      { eventIds: ['e1', 'e2', 'e3'], attempt: 1, lastAttempt: false },
      { eventIds: ['e1'], attempt: 1, lastAttempt: false },
      { eventIds: ['e2'], attempt: 1, lastAttempt: false },
      { eventIds: ['e2'], attempt: 2, lastAttempt: true },
      { eventIds: ['e3'], attempt: 1, lastAttempt: false },
    ]);
    expect(sink.letters).toEqual([
      expect.objectContaining({ reason: 'handler-failed', handlerId: 'b', attempts: 2 }),
    ]);
    expect(executor.committed).toEqual(['b:e1', 'b:e3']);
  });

  it('never gets a redelivered event again', async () => {
    const b = batchWriter('b');
    const { dispatcher, executor } = setup(b.registration);
    await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2')]);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2'), message(3, 'e3')]);
    expect(outcomes(result.reports)).toEqual([['duplicate'], ['duplicate'], ['applied']]);
    expect(b.calls.map((c) => c.eventIds)).toEqual([['e1', 'e2'], ['e3']]);
    expect(executor.committed).toEqual(['b:e1', 'b:e2', 'b:e3']);
  });

  it('gets an array of one through dispatch (one message)', async () => {
    const b = batchWriter('b');
    const { dispatcher, executor } = setup(b.registration);
    const report = await dispatcher.dispatch(message(1, 'e1'));
    expect(report.handlers).toEqual([{ handlerId: 'b', outcome: 'applied', attempts: 1 }]);
    expect(b.calls).toEqual([{ eventIds: ['e1'], attempt: 1, lastAttempt: false }]);
    expect(executor.committed).toEqual(['b:e1']);
  });
});
