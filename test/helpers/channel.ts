import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { ensureCa, issueCertificate, type CertificateFiles } from '../../src/util/pki.js';
import { waitExit } from '../../src/util/proc.js';

/**
 * A test CA under `dir` and one agent certificate for each name (CN = the name, valid for
 * 127.0.0.1), each in its own subdirectory: what two agents' data channel needs.
 */
export async function channelCertificates<N extends string>(dir: string, caName: string, names: readonly N[]): Promise<Record<N, CertificateFiles>> {
  const ca = await ensureCa(join(dir, 'ca'), caName);
  const out = {} as Record<N, CertificateFiles>;
  for (const n of names) out[n] = await issueCertificate(ca, n, ['127.0.0.1'], join(dir, n), 'agent');
  return out;
}

/** `wc -c` in a child, in the place of the program a channel feeds (mbstream): its stdin, and the byte count it read once it exits. */
export function byteCounter(): { stdin: Writable; count: Promise<number> } {
  const child = spawn('wc', ['-c'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return { stdin: child.stdin, count: waitExit(child).then(() => Number(out.trim())) };
}
