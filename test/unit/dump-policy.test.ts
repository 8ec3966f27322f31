import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { judgeStatement } from '../../src/engine/mariadb/dump-policy.js';
import { prepareDump, withoutDefiner } from '../../src/engine/mariadb/dump-rewrite.js';
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

/** Prepares a dump given in pieces; answers what was found and the text that would be loaded. */
async function prepare(pieces: Array<string | Buffer>): Promise<{ loaded: string } & Awaited<ReturnType<typeof prepareDump>>> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const r = await prepareDump(Readable.from(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))), sink);
  return { ...r, loaded: Buffer.concat(chunks).toString('utf8') };
}

describe('what a dump may not do: refused whole', () => {
  const refused: Array<[string, string, string]> = [
    ['LOAD DATA LOCAL', "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t", 'host-file'],
    ['LOAD DATA LOW_PRIORITY LOCAL', "LOAD DATA LOW_PRIORITY LOCAL INFILE 'x' INTO TABLE t", 'host-file'],
    ['LOAD XML LOCAL', "load xml local infile 'x' into table t", 'host-file'],
    ['LOAD DATA INFILE', "LOAD DATA INFILE '/var/lib/x' INTO TABLE t", 'server-file'],
    ['LOAD_FILE', "INSERT INTO t SELECT LOAD_FILE('/etc/shadow')", 'server-file'],
    ['INTO OUTFILE', "SELECT * FROM t INTO OUTFILE '/tmp/x'", 'server-file'],
    ['SHUTDOWN', 'SHUTDOWN', 'server-admin'],
    ['KILL', 'KILL 12', 'server-admin'],
    ['FLUSH TABLES', 'FLUSH TABLES WITH READ LOCK', 'server-admin'],
    ['INSTALL PLUGIN', "INSTALL SONAME 'ha_connect'", 'server-admin'],
    ['CREATE SERVER', "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')", 'server-admin'],
    ['a write to mysql.user from elsewhere', "INSERT INTO `mysql`.`global_priv` VALUES ('%', 'x', '{}')", 'server-schema'],
    ['a read of mysql.user', 'INSERT INTO t SELECT * FROM mysql.user', 'server-schema'],
    ['performance_schema', 'SELECT * FROM performance_schema.threads', 'server-schema'],
  ];
  for (const [name, sql, rule] of refused) {
    it(`refuses ${name}`, () => expect(judgeStatement(sql)).toMatchObject({ action: 'refuse', rule }));
  }
});

describe('what a dump may not do: left out, with a warning', () => {
  const neutralised: Array<[string, string, string]> = [
    ["mysqldump's binary log off (GTIDs on)", 'SET @@SESSION.SQL_LOG_BIN= 0', 'binlog-off'],
    ["mysqldump's binary log restored", 'SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN', 'binlog-off'],
    ['SET sql_log_bin', 'SET sql_log_bin = 0', 'binlog-off'],
    ['SET SESSION sql_log_bin', 'SET SESSION SQL_LOG_BIN=0', 'binlog-off'],
    ["MySQL 8's GTID_PURGED", "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'", 'gtid-position'],
    ["mariadb-dump --gtid's position", "SET GLOBAL gtid_slave_pos='0-1-42'", 'gtid-position'],
    ['SET GLOBAL', 'SET GLOBAL max_connections = 1', 'global-setting'],
    ['SET @@GLOBAL.', 'SET @@global.read_only = 0', 'global-setting'],
    ['a global among session settings', 'SET @a = 1, GLOBAL event_scheduler = ON', 'global-setting'],
    ['inside an executable comment', '/*!40101 SET GLOBAL local_infile = 1 */', 'global-setting'],
    ['CHANGE MASTER', "CHANGE MASTER TO MASTER_HOST='evil'", 'replication'],
    ["mariadb-dump's CHANGE MASTER", 'CHANGE MASTER TO MASTER_USE_GTID=slave_pos', 'replication'],
    ['STOP SLAVE', 'STOP SLAVE', 'replication'],
    ['RESET MASTER', 'RESET MASTER', 'replication'],
    ['CREATE USER', "CREATE USER evil@'%' IDENTIFIED BY 'x'", 'accounts'],
    ['DROP USER', 'DROP USER IF EXISTS mysqldb', 'accounts'],
    ['GRANT', "GRANT ALL ON *.* TO x@'%'", 'accounts'],
    ['SET PASSWORD', "SET PASSWORD FOR root@localhost = PASSWORD('x')", 'accounts'],
    ['FLUSH PRIVILEGES', 'FLUSH PRIVILEGES', 'accounts'],
    ['USE mysql', 'USE `mysql`', 'server-schema'],
    ['CREATE DATABASE mysql', 'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `mysql`', 'server-schema'],
    ['DROP DATABASE mysql', 'DROP DATABASE IF EXISTS mysql', 'server-schema'],
  ];
  for (const [name, sql, rule] of neutralised) {
    it(`leaves out ${name}`, () => expect(judgeStatement(sql)).toMatchObject({ action: 'neutralise', rule }));
  }

  const allowed: Array<[string, string]> = [
    ['a session setting', 'SET NAMES utf8mb4'],
    ['a dump header', '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */'],
    ["mysqldump's read of SQL_LOG_BIN", 'SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN'],
    ['session time zone', "/*!40103 SET TIME_ZONE='+00:00' */"],
    ['the word global in a string', "INSERT INTO t VALUES ('SET GLOBAL x = 1', 'mysql.user')"],
    ['a column named like a schema, qualified', 'SELECT t.mysql FROM t'],
    ['a database of the user', 'CREATE DATABASE IF NOT EXISTS `shop`'],
    ['LOAD in a value', "INSERT INTO t VALUES ('LOAD DATA LOCAL INFILE')"],
    ['a user variable named global', 'SET @global = 1'],
  ];
  for (const [name, sql] of allowed) {
    it(`loads ${name}`, () => expect(judgeStatement(sql)).toBeNull());
  }
});

describe('preparing a whole dump', () => {
  it("a MySQL 8 dump with GTIDs on: the binary log stays on, the GTID position is left out, every line keeps its number", async () => {
    const dump = [
      'SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;',
      'SET @@SESSION.SQL_LOG_BIN= 0;',
      '',
      "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'a:1-5,",
      "b:1-9';",
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`;',
      'USE `shop`;',
      'CREATE TABLE t (a INT);',
      'SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;',
      '',
    ].join('\n');
    const r = await prepare([dump.slice(0, 40), dump.slice(40)]);
    expect(r.refusals).toEqual([]);
    expect(r.statements).toBe(7);
    expect(r.schemas).toEqual(['shop']);
    expect(r.neutralised.map((n) => [n.rule, n.count, n.lines])).toEqual([
      ['binlog-off', 2, [2, 9]],
      ['gtid-position', 1, [4]],
    ]);
    const lines = r.loaded.split('\n');
    expect(lines).toHaveLength(dump.split('\n').length);
    expect(lines[1]).toBe('/* left out by cps-mysql (binlog-off) */');
    expect(lines[7]).toBe('CREATE TABLE t (a INT);');
    expect(r.loaded).not.toMatch(/SQL_LOG_BIN=|GTID_PURGED/);
  });

  it('an --all-databases dump: the mysql schema is left out up to the next USE; the rest loads', async () => {
    const dump = "CREATE DATABASE `mysql`;\nUSE `mysql`;\nLOCK TABLES `user` WRITE;\nINSERT INTO `user` VALUES ('x');\nUNLOCK TABLES;\nFLUSH PRIVILEGES;\nUSE `app`;\nCREATE TABLE t (a INT);\n";
    const r = await prepare([dump]);
    expect(r.refusals).toEqual([]);
    expect(r.neutralised).toEqual([{ rule: 'server-schema', reason: expect.any(String), count: 6, lines: [1, 2, 3, 4, 5] }]);
    expect(r.schemas).toEqual(['app']);
    expect(r.loaded).toContain('CREATE TABLE t (a INT);');
    expect(r.loaded).not.toContain('LOCK TABLES');
  });

  it('DEFINERs are taken out of views, triggers and routines; their bodies are not touched', () => {
    expect(withoutDefiner('/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`app`@`%` SQL SECURITY DEFINER */\n/*!50001 VIEW `v` AS select 1 */')).toBe('/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 SQL SECURITY DEFINER */\n/*!50001 VIEW `v` AS select 1 */');
    expect(withoutDefiner("/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.note = 'DEFINER=x@y' */;;")).toBe("/*!50003 CREATE*/ /*!50017 */ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.note = 'DEFINER=x@y' */;;");
    expect(withoutDefiner("CREATE DEFINER='old'@'10.0.%' PROCEDURE p() SELECT 1")).toBe('CREATE PROCEDURE p() SELECT 1');
    expect(withoutDefiner('CREATE DEFINER=CURRENT_USER() FUNCTION f() RETURNS INT RETURN 1')).toBe('CREATE FUNCTION f() RETURNS INT RETURN 1');
    expect(withoutDefiner('CREATE TABLE t (a INT)')).toBeNull();
    expect(withoutDefiner("INSERT INTO t VALUES ('CREATE DEFINER=x@y VIEW')")).toBeNull();
  });

  it('a refused statement refuses the dump, with its line', async () => {
    const dump = "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\n\nSET GLOBAL read_only = 0;\nLOAD DATA LOCAL INFILE '/root/x' INTO TABLE t;\n";
    const r = await prepare([dump.slice(0, 30), dump.slice(30)]);
    expect(r.statements).toBe(4);
    expect(r.refusals).toEqual([{ line: 5, rule: 'host-file', reason: expect.stringMatching(/reads a file of the host/) }]);
    expect(r.neutralised.map((n) => n.rule)).toEqual(['global-setting']);
  });

  it('reads a character cut between two chunks as one character', async () => {
    const bytes = Buffer.from("INSERT INTO t VALUES ('é');\nSET GLOBAL x = 1;\n");
    const at = bytes.indexOf(0xc3) + 1;
    const r = await prepare([bytes.subarray(0, at), bytes.subarray(at)]);
    expect(r.loaded).toContain("('é')");
    expect(r.neutralised.map((n) => n.lines)).toEqual([[2]]);
  });
});
