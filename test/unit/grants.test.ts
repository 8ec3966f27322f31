import { describe, expect, it } from 'vitest';
import { APP_PRIVILEGES, authMatches, grantsMatch, parseGrantLine, replicationAccount, serviceAccount, socketAdminAccount } from '../../src/engine/mariadb/grants.js';

const HASH = '*D821809F681A40A6E379B50D0463EFAE20BDD122';

/** SHOW GRANTS of a service user as MariaDB 10.11.19 writes it (seen on this machine). */
const SERVICE_LINES = [
  `GRANT USAGE ON *.* TO \`mysqldb\`@\`%\` IDENTIFIED BY PASSWORD '${HASH}' WITH MAX_USER_CONNECTIONS 190`,
  'GRANT DELETE HISTORY ON `mysql`.* TO `mysqldb`@`%`',
  'GRANT DELETE HISTORY ON `sys`.* TO `mysqldb`@`%`',
  'GRANT DELETE HISTORY ON `performance_schema`.* TO `mysqldb`@`%`',
  'GRANT ALL PRIVILEGES ON `%`.* TO `mysqldb`@`%`',
];

describe('the privileges the product owns, compared with what a server shows', () => {
  const service = serviceAccount('mysqldb', HASH, 200);

  it('keeps ten connections of the server away from the service user', () => {
    expect(service.maxUserConnections).toBe(190);
    expect(serviceAccount('x', HASH, 5).maxUserConnections).toBe(1);
  });

  it('reads a SHOW GRANTS line', () => {
    expect(parseGrantLine('GRANT SELECT, INSERT ON `shop`.* TO `app`@`%` WITH GRANT OPTION')).toEqual({ target: '`shop`.*', privileges: ['SELECT', 'INSERT'], grantOption: true });
    expect(parseGrantLine('GRANT `role1` TO `app`@`%`')).toBeNull();
  });

  const cases: Array<[string, string[], boolean]> = [
    ['exactly the documented set (ALL PRIVILEGES on `%` is the whole database-level set)', SERVICE_LINES, true],
    ['the set written out privilege by privilege', [...SERVICE_LINES.slice(0, 4), `GRANT ${APP_PRIVILEGES.join(', ')} ON \`%\`.* TO \`mysqldb\`@\`%\``], true],
    ['a routine its creator was granted by the server itself', [...SERVICE_LINES, 'GRANT EXECUTE, ALTER ROUTINE ON FUNCTION `shop`.`f` TO `mysqldb`@`%`'], true],
    ['a global privilege added behind the product', [...SERVICE_LINES.slice(1), `GRANT SUPER ON *.* TO \`mysqldb\`@\`%\``], false],
    ['read access to the account tables', [...SERVICE_LINES, 'GRANT SELECT ON `mysql`.`global_priv` TO `mysqldb`@`%`'], false],
    ['the mask on mysql gone (the wildcard would reach it)', SERVICE_LINES.filter((l) => !l.includes('`mysql`')), false],
    ['a routine privilege beyond execute', [...SERVICE_LINES, 'GRANT EXECUTE, GRANT OPTION ON PROCEDURE `shop`.`p` TO `mysqldb`@`%`'], false],
    ['a role', [...SERVICE_LINES, 'GRANT `admin` TO `mysqldb`@`%`'], false],
    ['the grant option', SERVICE_LINES.map((l) => (l.includes('`%`.*') ? `${l} WITH GRANT OPTION` : l)), false],
  ];
  for (const [name, lines, match] of cases) {
    it(`${match ? 'accepts' : 'puts back'} ${name}`, () => expect(grantsMatch(service, lines)).toBe(match));
  }

  it('knows the replication and administrative accounts as the server shows them', () => {
    expect(grantsMatch(replicationAccount('repl', HASH), [`GRANT REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO \`repl\`@\`%\` IDENTIFIED BY PASSWORD '${HASH}'`])).toBe(true);
    const root = [
      "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION",
      'GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION',
    ];
    expect(grantsMatch(socketAdminAccount('root'), root)).toBe(true);
    expect(grantsMatch(socketAdminAccount('root'), [root[0]!.replace(' WITH GRANT OPTION', '')])).toBe(false);
  });

  const logins: Array<[string, Parameters<typeof authMatches>[0], Parameters<typeof authMatches>[1], boolean]> = [
    ['the right password hash', { kind: 'password', hash: HASH }, { plugin: 'mysql_native_password', authentication_string: HASH }, true],
    ['another password', { kind: 'password', hash: HASH }, { plugin: 'mysql_native_password', authentication_string: '*00' }, false],
    ['a password plus another way in', { kind: 'password', hash: HASH }, { plugin: 'mysql_native_password', authentication_string: HASH, auth_or: [{}, { plugin: 'unix_socket' }] }, false],
    ['socket only, as mariadb-install-db makes root', { kind: 'socket' }, { plugin: 'mysql_native_password', authentication_string: 'invalid', auth_or: [{}, { plugin: 'unix_socket' }] }, true],
    ['socket only, as CREATE USER … VIA unix_socket makes it', { kind: 'socket' }, { plugin: 'unix_socket', authentication_string: '' }, true],
    ['a socket account that got a password', { kind: 'socket' }, { plugin: 'mysql_native_password', authentication_string: HASH, auth_or: [{}, { plugin: 'unix_socket' }] }, false],
    ['a socket account with an empty password (anyone gets in)', { kind: 'socket' }, { plugin: 'mysql_native_password', authentication_string: '' }, false],
  ];
  for (const [name, auth, priv, match] of logins) {
    it(`${match ? 'accepts' : 'resets'} a login with ${name}`, () => expect(authMatches(auth, priv)).toBe(match));
  }
});
