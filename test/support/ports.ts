/** Free loopback ports (tools/dev-servers/ports.ts), re-exported for the tests. */
export { freePort, isAddressInUse, withFreePort } from '../../tools/dev-servers/ports';
