/**
 * Keeps the README's configuration reference in step with the options the module accepts: every
 * option the validator knows has a row (or a mention in its section's row), and every row names a
 * real option. Adding an option without documenting it, or documenting one that does not exist,
 * fails here.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULTS, WORKER_DEFAULTS } from 'nest-change-stream';
import { ROOT_OPTION_KEYS } from '../../libs/change-stream/src/options/resolve-options';
import { STREAM_OPTION_KEYS } from '../../libs/change-stream/src/options/streams';

const readme = readFileSync(resolve(__dirname, '..', '..', 'README.md'), 'utf8');

function configurationRows(): Map<string, string> {
  const start = readme.indexOf('## Configuration');
  expect(start).toBeGreaterThanOrEqual(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const match = /^\| ([^|]+) \|(.*)\|\s*$/.exec(line);
    if (!match || match[1].trim() === 'option' || /^-+$/.test(match[1].trim())) continue;
    // NOTE: a section may take several rows (`relay`, `relay` (delivery)): they add up.
    for (const name of match[1].matchAll(/`([A-Za-z]+)`/g))
      rows.set(name[1], (rows.get(name[1]) ?? '') + match[2]);
  }
  return rows;
}

describe('README configuration reference', () => {
  const rows = configurationRows();

  it('has a row for every top-level option the module accepts, and no row for an unknown one', () => {
    expect([...rows.keys()].sort()).toEqual([...ROOT_OPTION_KEYS].sort());
  });

  it('names every stream option in the streams row', () => {
    for (const key of STREAM_OPTION_KEYS) expect(rows.get('streams')).toContain(key);
  });

  it('names every relay, lease and storage default in its row', () => {
    for (const key of Object.keys(DEFAULTS.relay)) expect(rows.get('relay')).toContain(key);
    for (const key of Object.keys(DEFAULTS.lease)) expect(rows.get('lease')).toContain(key);
    for (const value of Object.values(DEFAULTS.storage)) expect(rows.get('storage')).toContain(value);
  });

  it('names every worker option in the worker row', () => {
    for (const key of Object.keys(WORKER_DEFAULTS)) expect(rows.get('worker')).toContain(key);
  });
});
