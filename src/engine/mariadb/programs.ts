import { which } from '../../util/which.js';

/** The MariaDB programs the engine runs, resolved once (Debian keeps mariadbd in /usr/sbin). */
export const programs = {
  mariadbd: which('mariadbd'),
  installDb: which('mariadb-install-db'),
  client: which('mariadb'),
  dump: which('mariadb-dump'),
  backup: which('mariadb-backup'),
  mbstream: which('mbstream'),
  binlog: which('mariadb-binlog'),
} as const;
