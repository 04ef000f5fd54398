/** The dev tooling's child-process tracker (tools/dev-servers/child-processes.ts), re-exported for the tests. */
export { exitOnSignals, spawnChild, track } from '../../tools/dev-servers/child-processes';
