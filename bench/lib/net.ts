/**
 * Free ports for the benchmarks' own agents: the same choice as the tests make (a run of three
 * below the kernel's ephemeral range: agent API, mariadbd, health checks).
 */
export { freePort, freePortPair } from '../../test/helpers/ports.js';
