import { isIP } from 'node:net';

/**
 * True when `host` is a loopback address: `localhost`, an IPv4 address in 127.0.0.0/8, `::1`
 * or an IPv4-mapped loopback. A name that merely starts with `127.` (`127.evil.example`) is not.
 */
export function isLoopbackAddress(host: string): boolean {
  if (host === 'localhost') return true;
  switch (isIP(host)) {
    case 4:
      return host.startsWith('127.');
    case 6:
      return host === '::1' || /^::ffff:127\./i.test(host);
    default:
      return false;
  }
}
