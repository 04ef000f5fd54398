import { decodeChangeEvent } from '../events/change-event.codec';
import { CHANGE_EVENT_HEADERS as H } from '../events/change-event.headers';
import type { ChangeMessage } from './change-message';
import { assembleFragments } from './fragment-assembler';

/** Messages at consecutive offsets from 0, as one fetched batch. */
const batchOf = (...messages: ChangeMessage[]) => messages.map((m, i) => ({ ...m, offset: String(i) }));
const message = (value: object, headers: Record<string, string>): ChangeMessage => ({
  topic: 't',
  partition: 0,
  offset: '',
  key: Buffer.from('{"_id":1}'),
  value: Buffer.from(JSON.stringify(value)),
  headers,
});
const whole = (id: string) => message({ _id: { _data: id }, operationType: 'insert' }, { [H.eventId]: id });
/** Fragment n of `of` of the event `event` (first fragment id `event`), as the relay publishes it. */
const fragment = (event: string, n: number, of: number, fields: object) =>
  message(
    { _id: { _data: `${event}-${n}` }, splitEvent: { fragment: n, of }, ...fields },
    { [H.eventId]: `${event}-${n}`, [H.fragment]: `${n}/${of}`, [H.splitEventId]: event, [H.epoch]: '3' },
  );
const big = (event: string) => [
  fragment(event, 1, 3, { operationType: 'update', documentKey: { _id: 1 }, ns: { db: 'd', coll: 'c' } }),
  fragment(event, 2, 3, { updateDescription: { updatedFields: { b: 'bb' } } }),
  fragment(event, 3, 3, { fullDocument: { _id: 1, a: 'a', b: 'bb' } }),
];

describe('assembleFragments', () => {
  it('joins a complete run into one event at the last fragment offset, under the whole event id', () => {
    const batch = [whole('A'), ...big('B'), whole('C')];
    const { messages, pendingFragments } = assembleFragments(batchOf(...batch));
    expect(pendingFragments).toBe(0);
    expect(messages.map((m) => m.offset)).toEqual(['0', '3', '4']);
    const decoded = decodeChangeEvent(messages[1].value, messages[1].headers);
    expect(decoded.eventId).toBe('B');
    expect(decoded.epoch).toBe('3');
    const event = JSON.parse(messages[1].value!.toString());
    expect(event).toEqual({
      _id: { _data: 'B-1' },
      operationType: 'update',
      ns: { db: 'd', coll: 'c' },
      documentKey: { _id: 1 },
      updateDescription: { updatedFields: { b: 'bb' } },
      fullDocument: { _id: 1, a: 'a', b: 'bb' },
    });
    expect(Object.keys(event).slice(0, 2)).toEqual(['_id', 'operationType']);
    expect(messages[1].headers[H.fragment]).toBeUndefined();
  });

  it('holds back an unfinished run at the end of a batch, so its offsets stay unresolved (refetched next)', () => {
    const [first, second] = big('B');
    const { messages, pendingFragments } = assembleFragments(batchOf(whole('A'), first, second));
    expect(messages.map((m) => m.offset)).toEqual(['0']);
    expect(pendingFragments).toBe(2);
  });

  it('starts over when the relay replays an event from its first fragment', () => {
    const partial = big('B').slice(0, 2);
    const replay = big('B');
    const { messages } = assembleFragments(batchOf(...partial, ...replay));
    expect(messages).toHaveLength(1);
    expect(messages[0].offset).toBe('4');
    expect(decodeChangeEvent(messages[0].value, messages[0].headers).event.fullDocument).toBeDefined();
  });

  it('never hands a partial event on: a run cut by another message, or an orphan fragment, is undecodable', () => {
    const [first, second, third] = big('B');
    const { messages } = assembleFragments(batchOf(first, second, whole('C'), third));
    expect(messages.map((m) => [m.offset, m.value === null])).toEqual([
      ['1', true],
      ['2', false],
      ['3', true],
    ]);
    expect(() => decodeChangeEvent(messages[0].value, messages[0].headers)).toThrow(/no value/);
    expect(messages[0].headers[H.splitEventId]).toBe('B');
  });
});
