import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import { RecordingDeadLetterSink } from '../testing/recording-dead-letter.sink';
import { ChangeDispatcher } from './change-dispatcher';
import { handler, type Invoke } from './change-dispatcher.fixtures';
import { ChangeHandlerRegistry, type ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import { RetryTimer } from './retry-timer';
import { EffectExecutor } from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import { DeadLetterSink, type DeadLetter } from './dead-letter';

const message = (value: string) => ({
  topic: 't',
  partition: 0,
  offset: '5',
  key: null,
  value: Buffer.from(value),
  headers: { [CHANGE_EVENT_HEADERS.eventId]: 'E1' },
});
const event = JSON.stringify({
  _id: { _data: 'E1' },
  operationType: 'insert',
  ns: { db: 'd', coll: 'c' },
  documentKey: { _id: 1 },
  fullDocument: { _id: 1 },
});

function setup(
  invoke: ChangeHandlerRegistration['invoke'],
  sink: DeadLetterSink = new RecordingDeadLetterSink(),
  record: () => Promise<void> = async () => undefined,
) {
  const registry = new ChangeHandlerRegistry();
  registry.register([handler('h', invoke as Invoke)]);
  const deadLettered: ProcessedMarker[] = [];
  const executor: EffectExecutor = {
    run: async (_m, _t, effect) => (await effect({} as never), 'applied'),
    runShared: async (effects) => {
      for (const { effect } of effects) await effect({} as never);
    },
    recordDeadLettered: async (marker) => {
      await record();
      deadLettered.push(marker);
    },
  };
  const waits: number[] = [];
  const timer: RetryTimer = { wait: async (ms) => void waits.push(ms) };
  return { dispatcher: new ChangeDispatcher(registry, executor, sink, timer), waits, deadLettered };
}
const failing = async () => {
  throw new Error('always');
};
const noPrimary = () => Object.assign(new Error('no primary'), { name: 'MongoServerSelectionError' });

describe('ChangeDispatcher (with fakes): the dead-lettered marker', () => {
  it('records the dead-lettered marker after the dead letter is stored, retrying until it is', async () => {
    const order: string[] = [];
    const sink: DeadLetterSink = { send: async () => void order.push('dead letter') };
    let refusals = 2;
    const { dispatcher, deadLettered, waits } = setup(failing, sink, async () => {
      order.push('marker');
      if (refusals-- > 0) throw noPrimary();
    });
    const report = await dispatcher.dispatch(message(event));
    expect(report).toMatchObject({ complete: true, handlers: [{ outcome: 'dead-lettered', attempts: 2 }] });
    expect(order).toEqual(['dead letter', 'marker', 'marker', 'marker']);
    expect(deadLettered).toEqual([{ handlerId: 'h', eventId: 'E1', topic: 't', partition: 0, offset: '5' }]);
    expect(waits).toEqual([10, 500, 1000]);
  });

  it('leaves the message incomplete when the dead-lettered marker cannot be recorded before drain', async () => {
    const drain = new AbortController();
    const { dispatcher, deadLettered } = setup(failing, new RecordingDeadLetterSink(), async () => {
      drain.abort();
      throw noPrimary();
    });
    const report = await dispatcher.dispatch(message(event), { signal: drain.signal });
    expect(report).toMatchObject({ complete: false, handlers: [{ outcome: 'interrupted', attempts: 2 }] });
    expect(deadLettered).toEqual([]);
  });
});

describe('ChangeDispatcher (with fakes): outages and drains', () => {
  it('does not spend attempts while MongoDB is unreachable', async () => {
    let outages = 3;
    const invoke = jest.fn(async () => {
      if (outages-- > 0)
        throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'MongoServerSelectionError' });
    });
    const { dispatcher, waits } = setup(invoke);
    const report = await dispatcher.dispatch(message(event));
    expect(report.handlers).toEqual([{ handlerId: 'h', outcome: 'applied', attempts: 1 }]);
    expect(invoke).toHaveBeenCalledTimes(4);
    expect(waits).toEqual([10, 10, 10]);
  });

  it('stops retrying when the worker drains and leaves the message incomplete', async () => {
    const drain = new AbortController();
    const invoke = jest.fn(async () => {
      drain.abort();
      throw new Error('boom');
    });
    const sink = new RecordingDeadLetterSink();
    const { dispatcher } = setup(invoke, sink);
    const report = await dispatcher.dispatch(message(event), { signal: drain.signal });
    expect(report).toEqual({
      complete: false,
      handlers: [{ handlerId: 'h', outcome: 'interrupted', attempts: 1, error: new Error('boom') }],
    });
    expect(sink.letters).toEqual([]);
  });
});

describe('ChangeDispatcher (with fakes): a failing dead-letter sink', () => {
  it('retries publishing a dead letter until it is stored', async () => {
    const sent: DeadLetter[] = [];
    let refusals = 2;
    const sink: DeadLetterSink = {
      send: async (letter) => {
        if (refusals-- > 0) throw new Error('broker down');
        sent.push(letter);
      },
    };
    const { dispatcher, waits } = setup(async () => {
      throw new Error('always');
    }, sink);
    const report = await dispatcher.dispatch(message(event));
    expect(report).toMatchObject({ complete: true, handlers: [{ outcome: 'dead-lettered', attempts: 2 }] });
    expect(sent).toHaveLength(1);
    expect(waits).toEqual([10, 500, 1000]);
  });

  it('reports an undecodable message incomplete when its dead letter cannot be stored before drain', async () => {
    const drain = new AbortController();
    const sink: DeadLetterSink = {
      send: async () => {
        drain.abort();
        throw new Error('broker down');
      },
    };
    const { dispatcher } = setup(jest.fn(), sink);
    const report = await dispatcher.dispatch(message('garbage'), { signal: drain.signal });
    expect(report.complete).toBe(false);
  });
});
