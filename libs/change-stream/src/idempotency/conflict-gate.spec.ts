import { ConflictGate } from './conflict-gate';

/** A transaction the test finishes by hand, recording when it started. */
function transaction(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const run = async () => {
    log.push(`start ${name}`);
    await done;
    log.push(`end ${name}`);
  };
  return { run, finish };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ConflictGate', () => {
  it('runs transactions side by side', async () => {
    const gate = new ConflictGate();
    const log: string[] = [];
    const [a, b] = [transaction(log, 'a'), transaction(log, 'b')];
    const running = [gate.beside(a.run), gate.beside(b.run)];
    await settle();
    expect(log).toEqual(['start a', 'start b']);
    a.finish();
    b.finish();
    await Promise.all(running);
  });

  it('runs a retry alone: after the running ones end, before the ones not started', async () => {
    const gate = new ConflictGate();
    const log: string[] = [];
    const [a, retry, later] = [transaction(log, 'a'), transaction(log, 'retry'), transaction(log, 'later')];
    const first = gate.beside(a.run);
    await settle();
    const alone = gate.byItself(retry.run);
    const after = gate.beside(later.run);
    await settle();
    expect(log).toEqual(['start a']);
    a.finish();
    await first;
    await settle();
    expect(log).toEqual(['start a', 'end a', 'start retry']);
    retry.finish();
    await alone;
    await settle();
    expect(log).toEqual(['start a', 'end a', 'start retry', 'end retry', 'start later']);
    later.finish();
    await after;
  });

  it('runs two retries one after the other, and frees the gate when a run throws', async () => {
    const gate = new ConflictGate();
    const log: string[] = [];
    const [one, two] = [transaction(log, 'one'), transaction(log, 'two')];
    const failing = gate.byItself(async () => {
      throw new Error('conflict again');
    });
    const first = gate.byItself(one.run);
    const second = gate.byItself(two.run);
    await expect(failing).rejects.toThrow('conflict again');
    await settle();
    expect(log).toEqual(['start one']);
    one.finish();
    await first;
    await settle();
    expect(log).toEqual(['start one', 'end one', 'start two']);
    two.finish();
    await second;
    await expect(gate.beside(async () => 'free')).resolves.toBe('free');
  });
});
