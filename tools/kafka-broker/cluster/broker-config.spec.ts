import { newClusterId, serverProperties, testSettings } from './broker-config';

describe('broker configuration', () => {
  it('makes cluster ids the storage tool takes: 16 bytes, base64url, never a leading "-" (read as an option)', () => {
    const ids = Array.from({ length: 2_000 }, newClusterId);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names every node as a controller voter, and lets explicit settings win over the test defaults', () => {
    const nodes = [1, 2, 3].map((id) => ({
      id,
      port: 9000 + id,
      controllerPort: 9100 + id,
      dir: `/tmp/n${id}`,
    }));
    const lines = serverProperties(nodes[1], nodes, { 'num.partitions': '2' }).split('\n');
    expect(lines).toContain('node.id=2');
    expect(lines).toContain('controller.quorum.voters=1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103');
    expect(lines).toContain('advertised.listeners=PLAINTEXT://127.0.0.1:9002');
    expect(lines).toContain('num.partitions=2');
    expect(lines.filter((line) => line.startsWith('num.partitions='))).toHaveLength(1);
  });

  it('replicates internal topics as far as the cluster allows', () => {
    expect(testSettings(1)['offsets.topic.replication.factor']).toBe(1);
    expect(testSettings(3)['offsets.topic.replication.factor']).toBe(3);
    expect(testSettings(3)['transaction.state.log.min.isr']).toBe(2);
  });
});
