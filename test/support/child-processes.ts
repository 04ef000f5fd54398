/** The dev tooling's child-process tracker (tools/launch/child-processes.ts), re-exported for the tests. */
export { exitOnSignals, spawnChild, track } from '../../tools/launch/child-processes';
