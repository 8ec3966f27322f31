import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** What the figures were measured on: they mean little without it. */
export interface MachineInfo {
  date: string;
  cores: string;
  cpuModel: string;
  memory: string;
  disk: string;
  kernel: string;
  mariadb: string;
  sysbench: string;
  socat: string;
  node: string;
  autocannon: string;
  commit: string;
}

function out(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return 'unknown';
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

function packageVersion(name: string): string {
  try {
    const p = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version?: string };
    return p.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineInfo(tmpDir: string): MachineInfo {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+([0-9]+)`, 'm').exec(meminfo)?.[1] ?? Number.NaN);
  const gib = (k: number): string => (k / 1024 / 1024).toFixed(1);
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const df = out('df', ['-h', '--output=source,fstype,size,used,avail', tmpDir]).split('\n')[1]?.trim().replace(/\s+/g, ' ') ?? 'unknown';
  const source = out('findmnt', ['-no', 'SOURCE', '--target', tmpDir]);
  const dev = source.replace(/^\/dev\//, '').replace(/\[.*\]$/, '');
  const lsblk = out('lsblk', ['-dno', 'NAME,SIZE,ROTA,TYPE', `/dev/${dev.replace(/[0-9]+$/, '') || dev}`]).replace(/\s+/g, ' ');
  const rota = lsblk.split(' ')[2];
  const media = rota === '0' ? 'non-rotational' : rota === '1' ? 'rotational' : 'media unknown';
  // An exported tree (`git archive`) is no checkout: its runner names the commit in CPS_BENCH_COMMIT.
  const head = out('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = out('git', ['status', '--porcelain', '--untracked-files=no']) === '' ? '' : ' (with uncommitted changes)';
  const commit = head !== 'unknown' ? `${head}${dirty}` : `${process.env['CPS_BENCH_COMMIT'] ?? 'unknown'} (exported tree)`;
  return {
    date: new Date().toISOString(),
    cores: `${out('nproc', [])} (node sees ${availableParallelism()})`,
    cpuModel: cpu,
    memory: `${gib(kib('MemTotal'))} GiB total, ${gib(kib('MemAvailable'))} GiB available at start`,
    disk: `${tmpDir} on ${df} (device ${lsblk || dev}, ${media})`,
    kernel: out('uname', ['-srm']),
    mariadb: firstLine(out('mariadbd', ['--version'])) || firstLine(out('/usr/sbin/mariadbd', ['--version'])),
    sysbench: out('sysbench', ['--version']),
    socat: firstLine(out('socat', ['-V']).split('\n').find((l) => /socat version/.test(l)) ?? 'unknown'),
    node: process.version,
    autocannon: packageVersion('autocannon'),
    commit,
  };
}

export function machineTable(m: MachineInfo): string {
  const rows: Array<[string, string]> = [
    ['date', m.date],
    ['cores', m.cores],
    ['CPU', m.cpuModel],
    ['memory', m.memory],
    ['disk', m.disk],
    ['kernel', m.kernel],
    ['MariaDB', m.mariadb],
    ['sysbench', m.sysbench],
    ['socat', m.socat],
    ['Node.js', m.node],
    ['autocannon', m.autocannon],
    ['commit', m.commit],
  ];
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)].join('\n');
}
