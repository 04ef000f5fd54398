import { Int32 } from 'bson';
import { MongoServerError } from 'mongodb';
import { errorCode } from './mongo-errors';

describe('errorCode', () => {
  // The relay's cursors decode with promoteValues: false (exact BSON types), and the driver decodes
  // their error replies with the same options: the code then arrives as an Int32.
  it('reads a code decoded as Int32 as well as a plain number', () => {
    expect(errorCode(new MongoServerError({ code: new Int32(286), errmsg: 'lost' }))).toBe(286);
    expect(errorCode(new MongoServerError({ code: 286, errmsg: 'lost' }))).toBe(286);
    expect(errorCode(new Error('no code'))).toBeUndefined();
  });
});
