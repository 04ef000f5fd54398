/** The testing kit's resnapshot support: marker builders, and a whole run delivered as a worker sees it. */
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Timestamp } from 'bson';
import { ChangeHandler } from '../handlers/change-handler.decorator';
import type { ChangeContext } from '../handlers/change-context';
import type { ChangeEvent } from '../events/change-event.interface';
import { changeEvents, ChangeStreamTester, ChangeStreamTestingModule } from '.';

interface Item {
  _id: number;
  name: string;
}

@Injectable()
class ItemViews {
  readonly seen: Array<{ op: string; partition: number; id?: number; runId?: string }> = [];

  @ChangeHandler<Item>('items', {
    operationTypes: ['snapshotStart', 'snapshot', 'snapshotEnd'],
    transaction: false,
  })
  async onRun(event: ChangeEvent<Item>, ctx: ChangeContext) {
    this.seen.push({
      op: event.operationType,
      partition: ctx.partition,
      ...('documentKey' in event ? { id: Number(event.documentKey._id) } : {}),
      ...('runId' in event ? { runId: event.runId } : {}),
    });
  }
}

describe('nest-change-stream/testing: resnapshot runs', () => {
  let moduleRef: TestingModule;
  let tester: ChangeStreamTester;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [ChangeStreamTestingModule.forRoot({ database: 'shop' })],
      providers: [ItemViews],
    }).compile();
    await moduleRef.init();
    tester = moduleRef.get(ChangeStreamTester);
  });
  afterEach(() => moduleRef.close());

  it('builds typed start and end markers of a run', () => {
    const clusterTime = new Timestamp({ t: 1_700_000_000, i: 3 });
    const end = changeEvents.snapshotEnd(['items'], { clusterTime, partition: 2, partitions: 4 });
    expect(end).toMatchObject({
      operationType: 'snapshotEnd',
      ns: { db: 'test' },
      runId: '1700000000.3',
      collections: ['items'],
      clusterTime,
    });
    expect([Number(end.partition), Number(end.partitions)]).toEqual([2, 4]);
    expect(changeEvents.snapshotStart('items', { runId: 'r1' }).runId).toBe('r1');
  });

  it('delivers a run as a worker sees it: start markers on every partition, the documents, end markers', async () => {
    const items = [
      { _id: 1, name: 'a' },
      { _id: 2, name: 'b' },
    ];
    const reports = await tester.dispatchResnapshot('items', items, {
      db: 'shop',
      partitions: 2,
      runId: 'run-1',
    });
    expect(reports.every((r) => r.complete)).toBe(true);
    const views = moduleRef.get(ItemViews);
    expect(views.seen).toEqual([
      { op: 'snapshotStart', partition: 0, runId: 'run-1' },
      { op: 'snapshotStart', partition: 1, runId: 'run-1' },
      { op: 'snapshot', partition: 0, id: 1 },
      { op: 'snapshot', partition: 0, id: 2 },
      { op: 'snapshotEnd', partition: 0, runId: 'run-1' },
      { op: 'snapshotEnd', partition: 1, runId: 'run-1' },
    ]);
  });
});
