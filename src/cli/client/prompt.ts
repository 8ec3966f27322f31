import { createInterface } from 'node:readline';
import { AppError } from '../../util/errors.js';

/** Reads one line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    if (!stdin.isTTY) {
      reject(new Error('no terminal to ask for a password: pipe it on standard input instead'));
      return;
    }
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Reads the first line of standard input (for scripts that pipe a password in). */
export async function readLineFromStdin(): Promise<string> {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

/**
 * A new password: asked twice without echo at a terminal, else the first line of standard
 * input. INVALID_PARAMS when the two differ or it is empty ("nothing changed").
 */
export async function readNewPassword(): Promise<string> {
  let pw: string;
  if (process.stdin.isTTY) {
    pw = await promptHidden('new password: ');
    const again = await promptHidden('again: ');
    if (pw !== again) throw new AppError('INVALID_PARAMS', 'the two passwords differ; nothing changed');
  } else {
    pw = await readLineFromStdin();
  }
  if (!pw) throw new AppError('INVALID_PARAMS', 'the password is empty; nothing changed');
  return pw;
}
