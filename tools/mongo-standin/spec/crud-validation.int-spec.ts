/**
 * Collection validators through the real driver, as mongod 7.0 enforces them (references: the
 * driver CRUD spec files bypassDocumentValidation.json, findOneAndUpdate-errorResponse.json): a
 * write storing a document the `validator` rejects fails with DocumentValidationFailure (121) and
 * `errInfo`, unless `bypassDocumentValidation`, `validationLevel` or `validationAction` says
 * otherwise.
 */
import { MongoBulkWriteError, MongoServerError, type Db } from 'mongodb';
import { useStandin } from './use-standin';

describe('MongoDB stand-in: document validation', () => {
  const standin = useStandin('validation');
  let db: Db;

  beforeEach(() => {
    db = standin.freshDb();
  });

  it('refuses an insert, update, replace, upsert or findAndModify that breaks the validator (121)', async () => {
    const docs = await db.createCollection('docs', { validator: { x: { $type: 'string' } } });
    await docs.insertOne({ _id: 1, x: 'foo' } as never);
    const insertError = await docs.insertOne({ _id: 2, x: 1 } as never).catch((error: unknown) => error);
    expect(insertError).toBeInstanceOf(MongoServerError);
    expect(insertError).toMatchObject({
      code: 121,
      errInfo: {
        failingDocumentId: 2,
        details: {
          operatorName: '$type',
          specifiedAs: { x: { $type: 'string' } },
          reason: 'type did not match',
          consideredValue: 1,
          consideredType: 'int',
        },
      },
    });
    await expect(docs.updateOne({ _id: 1 } as never, { $set: { x: 1 } })).rejects.toMatchObject({
      code: 121,
    });
    await expect(docs.replaceOne({ _id: 1 } as never, { y: 1 })).rejects.toMatchObject({
      code: 121,
      errInfo: { details: { reason: 'field was missing' } },
    });
    await expect(
      docs.updateOne({ _id: 3 } as never, { $set: { x: 3 } }, { upsert: true }),
    ).rejects.toMatchObject({ code: 121 });
    await expect(docs.findOneAndUpdate({ _id: 1 } as never, { $set: { x: 1 } })).rejects.toMatchObject({
      code: 121,
      errInfo: { failingDocumentId: 1, details: expect.any(Object) },
    });
    expect(await docs.find().toArray()).toEqual([{ _id: 1, x: 'foo' }]);
  });

  it('enforces a validator added by collMod, per statement of an unordered bulk write', async () => {
    const docs = db.collection('later');
    await docs.insertMany([{ _id: 1, x: 'a' }] as never[]);
    await db.command({ collMod: 'later', validator: { x: { $type: 'string' }, n: { $gte: 0 } } });
    const error = await docs
      .insertMany(
        [
          { _id: 2, x: 'b', n: 1 },
          { _id: 3, x: 'c', n: -1 },
          { _id: 4, x: 'd' },
        ] as never[],
        {
          ordered: false,
        },
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MongoBulkWriteError);
    const writeErrors = [(error as MongoBulkWriteError).writeErrors].flat();
    expect(writeErrors.map((writeError) => writeError.index)).toEqual([1, 2]);
    expect(writeErrors[0].errInfo).toEqual({
      failingDocumentId: 3,
      details: {
        operatorName: '$and',
        clausesNotSatisfied: [
          {
            index: 1,
            details: {
              operatorName: '$gte',
              specifiedAs: { n: { $gte: 0 } },
              reason: 'comparison failed',
              consideredValue: -1,
            },
          },
        ],
      },
    });
    expect(await docs.countDocuments()).toBe(2);
  });

  it('skips the validator with bypassDocumentValidation: true', async () => {
    const docs = await db.createCollection('bypass', { validator: { x: { $type: 'string' } } });
    await docs.insertOne({ _id: 1, x: 1 } as never, { bypassDocumentValidation: true });
    await docs.updateOne({ _id: 1 } as never, { $set: { x: 2 } }, { bypassDocumentValidation: true });
    await docs.findOneAndReplace({ _id: 1 } as never, { x: 3 }, { bypassDocumentValidation: true });
    await docs.bulkWrite([{ insertOne: { document: { _id: 2, x: 4 } as never } }], {
      bypassDocumentValidation: true,
    });
    expect(await docs.countDocuments({ x: { $type: 'int' } })).toBe(2);
    await expect(
      docs.insertOne({ _id: 3, x: 5 } as never, { bypassDocumentValidation: false }),
    ).rejects.toMatchObject({ code: 121 });
  });

  it('honours validationLevel moderate and off, and validationAction warn', async () => {
    const docs = db.collection('levels');
    await docs.insertMany([
      { _id: 1, x: 1 },
      { _id: 2, x: 'ok' },
    ] as never[]);
    await db.command({
      collMod: 'levels',
      validator: { x: { $type: 'string' } },
      validationLevel: 'moderate',
    });
    // moderate: a document that already failed validation may be updated to anything.
    await docs.updateOne({ _id: 1 } as never, { $set: { x: 2 } });
    await expect(docs.updateOne({ _id: 2 } as never, { $set: { x: 3 } })).rejects.toMatchObject({
      code: 121,
    });
    await expect(docs.insertOne({ _id: 3, x: 4 } as never)).rejects.toMatchObject({ code: 121 });
    await db.command({ collMod: 'levels', validationAction: 'warn', validationLevel: 'strict' });
    await docs.insertOne({ _id: 4, x: 5 } as never);
    await db.command({ collMod: 'levels', validationAction: 'error', validationLevel: 'off' });
    await docs.insertOne({ _id: 5, x: 6 } as never);
    expect(await docs.countDocuments()).toBe(4);
  });

  it('refuses invalid validation options, and $jsonSchema the stand-in does not evaluate', async () => {
    await expect(db.createCollection('bad', { validationLevel: 'sometimes' } as never)).rejects.toMatchObject(
      {
        code: 2,
      },
    );
    await expect(db.createCollection('bad', { validator: { $where: 'true' } })).rejects.toMatchObject({
      code: 224,
    });
    await expect(
      db.createCollection('schema', { validator: { $jsonSchema: { required: ['x'] } } }),
    ).rejects.toMatchObject({ code: 238, message: expect.stringContaining('MongoDB stand-in') });
  });
});
