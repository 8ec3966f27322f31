// A client that runs inside a host's network namespace (started by a test with `ip netns exec`).
//   write <host> <port> <table> <first id>: inserts ids one at a time, one line per outcome:
//     ack <id> <epoch ms>    the server acknowledged the commit
//     err <id> <epoch ms>    the statement failed or the connection broke (the id is never reused)
//   sample <host> <port>: every 50 ms, whether the server takes writes:
//     rw <0|1> <epoch ms> <end epoch ms>    1 when it answers with read_only off; 0 when read-only,
//     down or silent; the times the look began and ended (a reconnect makes it long)
// The password comes on standard input (one line), never on the argument list. SIGTERM ends it at
// once: a commit still waiting for its acknowledgement was not acknowledged.
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';

const [mode, host, port, table, first] = process.argv.slice(2);
let password = '';
for await (const chunk of process.stdin) password += chunk.toString();
password = password.split('\n')[0];
process.on('SIGTERM', () => process.exit(0));

const connect = () => mysql.createConnection({ host, port: Number(port), user: 'mysqldb', password, connectTimeout: 2000 });

let c = null;
if (mode === 'write') {
  let id = Number(first);
  for (;;) {
    try {
      c ??= await connect();
      await c.query(`INSERT INTO ${table} VALUES (?)`, [id]);
      process.stdout.write(`ack ${id} ${Date.now()}\n`);
    } catch {
      process.stdout.write(`err ${id} ${Date.now()}\n`);
      c?.destroy();
      c = null;
      await sleep(50);
    }
    id++;
  }
} else {
  for (;;) {
    const at = Date.now();
    let rw = 0;
    try {
      c ??= await connect();
      const [rows] = await c.query({ sql: 'SELECT @@read_only AS ro', timeout: 200 });
      rw = Number(rows[0].ro) === 0 ? 1 : 0;
    } catch {
      c?.destroy();
      c = null;
    }
    process.stdout.write(`rw ${rw} ${at} ${Date.now()}\n`);
    await sleep(Math.max(0, 50 - (Date.now() - at)));
  }
}
