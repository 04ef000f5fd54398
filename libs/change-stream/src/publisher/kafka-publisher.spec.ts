import { groupByTopic } from './kafka-publisher';

describe('groupByTopic', () => {
  it('groups by topic and keeps the order within each topic', () => {
    const m = (topic: string, key: string) => ({ topic, key, value: key, headers: {} });
    expect(groupByTopic([m('a', '1'), m('b', '2'), m('a', '3')])).toEqual([
      {
        topic: 'a',
        messages: [
          { key: '1', value: '1', headers: {} },
          { key: '3', value: '3', headers: {} },
        ],
      },
      { topic: 'b', messages: [{ key: '2', value: '2', headers: {} }] },
    ]);
  });
});
