/**
 * Makes the orders stream lose its history on the MongoDB stand-in, as an oplog that rolled over
 * while no relay ran does on mongod: a checkpoint with a resume token, then a write no relay
 * sees, then that write (and the checkpoint's event) out of the oplog. The next relay cannot
 * resume (ChangeStreamHistoryLost, 286).
 */
import { MongoClient } from 'mongodb';
import type { MongoStandin } from '../../tools/mongo-standin';
import { waitFor } from '../support/wait';
import { OrdersClient, OrderWorkload } from './orders-client';

/** `url` serves the orders API with a relay; `stopService` stops it once the checkpoint holds a token. */
export async function loseOrdersHistory(
  mongo: MongoStandin,
  url: string,
  stopService: () => Promise<void>,
  customerId: string,
): Promise<void> {
  await new OrderWorkload(new OrdersClient([url])).createOrder(customerId);
  const client = await new MongoClient(mongo.url).connect();
  try {
    const checkpoints = client.db('nest_change_stream').collection('change_stream_checkpoints');
    await waitFor(async () => (await checkpoints.findOne({ _id: 'shop.orders' as never }))?.resumeToken, {
      timeoutMs: 30_000,
      what: 'a checkpoint with a resume token',
    });
    await stopService();
    // Written while no relay runs, then gone from the oplog: the checkpoint cannot resume.
    await client
      .db('shop')
      .collection('orders')
      .insertOne({ customerId, status: 'created', items: [], total: 0 });
  } finally {
    await client.close();
  }
  mongo.truncateOplog();
}
