import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeStatement, scanDump } from '../../src/engine/mariadb/dump-policy.js';
import { StatementSplitter, type DumpItem } from '../../src/engine/mariadb/dump-split.js';

function split(text: string, chunk = text.length || 1): DumpItem[] {
  const s = new StatementSplitter();
  const out: DumpItem[] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...s.push(text.slice(i, i + chunk)));
  out.push(...s.end());
  return out;
}

const statements = (text: string): Array<[number, string]> =>
  split(text)
    .filter((i) => i.kind === 'statement')
    .map((i) => [i.line, i.text.trim()]);

describe('splitting a dump into the statements the client sends', () => {
  it('splits on the delimiter and numbers each statement by the line of its first word', () => {
    expect(statements('SELECT 1;\n\n  INSERT INTO t VALUES (1);\n')).toEqual([
      [1, 'SELECT 1;'],
      [3, 'INSERT INTO t VALUES (1);'],
    ]);
  });

  it('does not split inside strings, names or comments', () => {
    const dump = "INSERT INTO t VALUES ('a;b', \"c;d\", 'it\\'s;');\nSELECT `x;y` FROM t; -- not; here\n/* a; b */ SELECT 2;\n# c;\nSELECT 3;\n";
    expect(statements(dump).map(([, t]) => t)).toEqual(["INSERT INTO t VALUES ('a;b', \"c;d\", 'it\\'s;');", 'SELECT `x;y` FROM t;', '-- not; here\n/* a; b */ SELECT 2;', '# c;\nSELECT 3;']);
  });

  it('follows DELIMITER, as dumps with triggers and routines use it', () => {
    const dump = 'DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END ;;\nDELIMITER ;\nSELECT 1;\n';
    const items = split(dump);
    expect(items.filter((i) => i.kind === 'command').map((i) => i.line)).toEqual([1, 3]);
    expect(statements(dump)).toEqual([
      [2, 'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END ;;'],
      [4, 'SELECT 1;'],
    ]);
  });

  it('counts an executable comment as code, and its first line as the statement line', () => {
    expect(statements('\n/*!40101 SET @x = 1 */;\n')).toEqual([[2, '/*!40101 SET @x = 1 */;']]);
  });

  it('gives the dump back unchanged, whatever the chunk size', () => {
    const piece = fc.constantFrom('SELECT 1;', "'a;\\'b'", '"q;"', '`n;`', '-- c;\n', '# h;\n', '/* b; */', '/*!40101 SET @a=1 */;', '\n', ' ', 'DELIMITER ;;\n', 'DELIMITER ;\n', 'x', ';');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 1, max: 17 }), (parts, chunk) => {
        const text = parts.join('');
        const whole = split(text);
        const chunked = split(text, chunk);
        expect(chunked.map((i) => i.text).join('')).toBe(text);
        expect(chunked).toEqual(whole);
      }),
      { seed: 20241129, numRuns: 300 },
    );
  });

  it('refuses a line longer than the server would ever take', () => {
    const s = new StatementSplitter();
    const big = 'x'.repeat(1024 * 1024);
    expect(() => {
      for (let i = 0; i < 65; i++) s.push(big);
    }).toThrow(/line 1 of the dump is longer than 64 MiB/);
  });
});

describe('what a dump may not do', () => {
  const refused: Array<[string, string, string]> = [
    ['SET GLOBAL', 'SET GLOBAL max_connections = 1', 'global-setting'],
    ['SET @@GLOBAL.', 'SET @@global.read_only = 0', 'global-setting'],
    ['a global among session settings', 'SET @a = 1, GLOBAL event_scheduler = ON', 'global-setting'],
    ['inside an executable comment', '/*!40101 SET GLOBAL local_infile = 1 */', 'global-setting'],
    ['SET PERSIST', 'SET PERSIST x = 1', 'global-setting'],
    ['LOAD DATA LOCAL', "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t", 'host-file'],
    ['LOAD DATA LOW_PRIORITY LOCAL', "LOAD DATA LOW_PRIORITY LOCAL INFILE 'x' INTO TABLE t", 'host-file'],
    ['LOAD XML LOCAL', "load xml local infile 'x' into table t", 'host-file'],
    ['LOAD DATA INFILE', "LOAD DATA INFILE '/var/lib/x' INTO TABLE t", 'server-file'],
    ['LOAD_FILE', "INSERT INTO t SELECT LOAD_FILE('/etc/shadow')", 'server-file'],
    ['INTO OUTFILE', "SELECT * FROM t INTO OUTFILE '/tmp/x'", 'server-file'],
    ['CREATE USER', "CREATE USER evil@'%' IDENTIFIED BY 'x'", 'accounts'],
    ['CREATE OR REPLACE USER', "CREATE OR REPLACE USER evil@'%'", 'accounts'],
    ['ALTER USER', "ALTER USER root@localhost IDENTIFIED BY 'x'", 'accounts'],
    ['DROP USER', 'DROP USER IF EXISTS mysqldb', 'accounts'],
    ['RENAME USER', 'RENAME USER a TO b', 'accounts'],
    ['GRANT', "GRANT ALL ON *.* TO x@'%'", 'accounts'],
    ['REVOKE', 'REVOKE SELECT ON db.* FROM x', 'accounts'],
    ['SET PASSWORD', "SET PASSWORD FOR root@localhost = PASSWORD('x')", 'accounts'],
    ['CREATE ROLE', 'CREATE ROLE admin', 'accounts'],
    ['CHANGE MASTER', "CHANGE MASTER TO MASTER_HOST='evil'", 'replication'],
    ['STOP SLAVE', 'STOP SLAVE', 'replication'],
    ['RESET MASTER', 'RESET MASTER', 'replication'],
    ['PURGE BINARY LOGS', "PURGE BINARY LOGS TO 'x'", 'replication'],
    ['BINLOG', "BINLOG 'AAAA'", 'replication'],
    ['SHUTDOWN', 'SHUTDOWN', 'server-admin'],
    ['KILL', 'KILL 12', 'server-admin'],
    ['INSTALL PLUGIN', "INSTALL SONAME 'ha_connect'", 'server-admin'],
    ['CREATE SERVER', "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')", 'server-admin'],
    ['USE mysql', 'USE `mysql`', 'server-schema'],
    ['a write to mysql.user', "INSERT INTO `mysql`.`global_priv` VALUES ('%', 'x', '{}')", 'server-schema'],
    ['a read of mysql.user', 'INSERT INTO t SELECT * FROM mysql.user', 'server-schema'],
    ['DROP DATABASE mysql', 'DROP DATABASE IF EXISTS mysql', 'server-schema'],
    ['performance_schema', 'SELECT * FROM performance_schema.threads', 'server-schema'],
  ];
  for (const [name, sql, rule] of refused) {
    it(`refuses ${name}`, () => expect(judgeStatement(sql)?.rule).toBe(rule));
  }

  const allowed: Array<[string, string]> = [
    ['a session setting', "SET NAMES utf8mb4"],
    ['a dump header', '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */'],
    ['session time zone', "/*!40103 SET TIME_ZONE='+00:00' */"],
    ['the word global in a string', "INSERT INTO t VALUES ('SET GLOBAL x = 1', 'mysql.user')"],
    ['a column named like a schema, qualified', 'SELECT t.mysql FROM t'],
    ['a database of the user', 'CREATE DATABASE IF NOT EXISTS `shop`'],
    ['LOAD in a value', "INSERT INTO t VALUES ('LOAD DATA LOCAL INFILE')"],
    ['a trigger', 'CREATE DEFINER=`mysqldb`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1'],
    ['a user variable named global', 'SET @global = 1'],
  ];
  for (const [name, sql] of allowed) {
    it(`allows ${name}`, () => expect(judgeStatement(sql)).toBeNull());
  }

  it('scans a whole dump and names the line of each refused statement', async () => {
    const dump = "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\n\nSET GLOBAL read_only = 0;\nLOAD DATA LOCAL INFILE '/root/x' INTO TABLE t;\n";
    const scan = await scanDump(Readable.from([Buffer.from(dump.slice(0, 30)), Buffer.from(dump.slice(30))]));
    expect(scan.statements).toBe(4);
    expect(scan.refusals).toEqual([
      { line: 4, rule: 'global-setting', reason: expect.stringMatching(/server-wide setting/) },
      { line: 5, rule: 'host-file', reason: expect.stringMatching(/reads a file of the host/) },
    ]);
  });

  it('reads a character cut between two chunks as one character', async () => {
    const bytes = Buffer.from("INSERT INTO t VALUES ('é');\nSET GLOBAL x = 1;\n");
    const at = bytes.indexOf(0xc3) + 1;
    const scan = await scanDump(Readable.from([bytes.subarray(0, at), bytes.subarray(at)]));
    expect(scan.refusals.map((r) => r.line)).toEqual([2]);
  });
});
