/** Free loopback ports (tools/launch/ports.ts), re-exported for the tests. */
export { freePort, isAddressInUse, withFreePort } from '../../tools/launch/ports';
