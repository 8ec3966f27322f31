import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configFor, type Ctx } from './lib/context.js';
import { machineInfo, machineTable } from './lib/machine.js';
import type { BenchManager } from './lib/manager.js';
import { killMentioning, now, processesMentioning, stopAllTracked } from './lib/proc.js';
import { Results } from './lib/results.js';
import { ensureTools } from './lib/tools.js';
import { setUpBigService, type BigService } from './items/big-service.js';
import { backupRound } from './items/backup.js';
import { coldStartRound } from './items/cold-start.js';
import { controlPlaneRound } from './items/control-plane.js';
import { failoverRound, setUpFailoverService, type FailoverService } from './items/failover.js';
import { hostsRound, setUpHostsService, tearDownHosts, type HostsService } from './items/hosts.js';
import { monitoringNoise, monitoringRound, prepareMonitoring } from './items/monitoring.js';
import { parallelRound } from './items/parallel.js';
import { provisionRound } from './items/provision.js';
import { switchoverRound } from './items/switchover.js';

const ITEMS = [1, 2, 3, 4, 5, 6, 7, 8, 9];

const USAGE = `usage: npm run bench [-- [--quick] [--runs N] [--only 1,2,3,4,5,6,7,8,9] [--keep] [--no-write]]

  --quick      a small data set (~75 MiB of tables) and 1 run per item: a few minutes
  (default)    ~1 GiB on the provisioning master and 3 runs per item: ~20 minutes
  --runs N     runs per item (rounds), overriding the mode's
  --only LIST  items to run: 1 provisioning (a–f), 2 parallel provisioning, 3 cold start,
               4 switchover, 5 control plane, 6 monitoring overhead, 7 automatic failover,
               8 hosts (static cloud in network namespaces, root only),
               9 backup and point-in-time restore
               (results of a subset go to <date>-<mode>-item(s)-<list>.md)
  --keep       leave the temporary directory (processes are stopped all the same)
  --no-write   print the tables only, do not write bench/results/
`;

const PROJECT = fileURLToPath(new URL('../../../', import.meta.url));

function parse(): { quick: boolean; runs?: number; only: Set<number>; keep: boolean; write: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  let runs: number | undefined;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs must be an integer from 1 to 20');
  }
  const only = new Set(values.only === undefined ? ITEMS : values.only.split(',').map((s) => Number(s.trim())));
  for (const i of only) if (!ITEMS.includes(i)) throw new Error(`--only: no item ${i} (items are 1 to ${ITEMS.length})`);
  return { quick: values.quick, ...(runs === undefined ? {} : { runs }), only, keep: values.keep, write: !values['no-write'] };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const cli = join(PROJECT, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) {
    process.stderr.write(`${cli} is missing: build first (npm run build), or run through \`npm run bench\`\n`);
    return 2;
  }
  const started = now();
  const stamp = (): string => {
    const s = Math.round((now() - started) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  };
  const log = (m: string): void => console.log(`[${stamp()}] ${m}`);
  await ensureTools(log);

  const config = configFor(args.quick ? 'quick' : 'full', args.runs);
  // Short: every node's socket path must stay under 107 bytes.
  const root = mkdtempSync(join(tmpdir(), 'cpsb-'));
  // The nodes' mariadbd runs as its own OS user (cps-mysql when run as root): it must pass through.
  chmodSync(root, 0o711);
  const results = new Results();
  const ctx: Ctx = { config, root, cli, results, keep: args.keep, log };
  const machine = machineInfo(root);
  log(`mode ${config.mode}, ${config.runs} run(s) per item, items ${[...args.only].sort((a, b) => a - b).join(',')}, working in ${root}`);

  let interrupted = false;
  const cleanup = async (): Promise<void> => {
    await stopAllTracked();
    await killMentioning(`${root}/`);
    if (!args.keep) await rm(root, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping every process this run started`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  /** Runs one part; a failure is recorded and the run goes on with the next part. */
  const attempt = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    if (interrupted) return false;
    try {
      await fn();
      return true;
    } catch (err) {
      if (interrupted) return false;
      const msg = `${what}: ${(err as Error).message}`;
      log(`FAILED ${msg}`);
      results.error(msg);
      return false;
    }
  };

  const want = (i: number): boolean => args.only.has(i);
  try {
    if (want(1) || want(2) || want(6) || want(9)) {
      let big: BigService | null = null;
      await attempt('provisioning master', async () => {
        big = await setUpBigService(ctx);
      });
      const b = big as BigService | null;
      if (b) {
        for (let round = 0; round < config.runs && want(1); round++) {
          log(`item 1, provisioning, run ${round + 1}/${config.runs}`);
          await attempt(`item 1 run ${round + 1}`, () => provisionRound(ctx, b, round));
        }
        for (let round = 0; round < config.runs && want(2); round++) {
          log(`item 2, parallel provisioning, run ${round + 1}/${config.runs}`);
          await attempt(`item 2 run ${round + 1}`, () => parallelRound(ctx, b, round));
        }
        if (want(6)) {
          log('item 6, monitoring overhead: preparing');
          await attempt('item 6', async () => {
            const target = await prepareMonitoring(ctx, b);
            for (let round = 0; round < config.runs; round++) {
              log(`item 6, monitoring overhead, run ${round + 1}/${config.runs}`);
              await attempt(`item 6 run ${round + 1}`, () => monitoringRound(ctx, b, target, round));
            }
            monitoringNoise(ctx);
          });
        }
        for (let round = 0; round < config.runs && want(9); round++) {
          log(`item 9, backup and point-in-time restore, run ${round + 1}/${config.runs}`);
          await attempt(`item 9 run ${round + 1}`, () => backupRound(ctx, b, round));
        }
        if (!interrupted) {
          log('destroying the provisioning service');
          await b.mgr.destroy();
        }
      }
    }
    if (want(3) || want(4) || want(5)) {
      let cold: BenchManager | null = null;
      const rounds = want(3) ? config.runs : 1;
      for (let round = 0; round < rounds; round++) {
        log(`item 3, cold start, run ${round + 1}/${rounds}`);
        await attempt(`item 3 run ${round + 1}`, async () => {
          const last = round === rounds - 1;
          const m = await coldStartRound(ctx, round, last);
          if (last) cold = m;
        });
      }
      const c = cold as BenchManager | null;
      if (c) {
        for (let round = 0; round < config.runs && want(4); round++) {
          log(`item 4, switchover, run ${round + 1}/${config.runs}`);
          await attempt(`item 4 run ${round + 1}`, () => switchoverRound(ctx, c, round));
        }
        for (let round = 0; round < config.runs && want(5); round++) {
          log(`item 5, control plane, run ${round + 1}/${config.runs}`);
          await attempt(`item 5 run ${round + 1}`, () => controlPlaneRound(ctx, c, round));
        }
        if (!interrupted) await c.destroy();
      }
    }
    if (want(7)) {
      let fo: FailoverService | null = null;
      log('item 7, automatic failover: a service with a master and 2 replicas');
      await attempt('item 7 service', async () => {
        fo = await setUpFailoverService(ctx);
      });
      const f = fo as FailoverService | null;
      if (f) {
        for (let round = 0; round < config.runs; round++) {
          log(`item 7, automatic failover, run ${round + 1}/${config.runs}`);
          await attempt(`item 7 run ${round + 1}`, () => failoverRound(ctx, f, round));
        }
        if (!interrupted) await f.mgr.destroy();
      }
    }
    if (want(8)) {
      let hs: HostsService | null = null;
      log('item 8, hosts: 3 hosts in network namespaces joined to a manager of the static cloud');
      await attempt('item 8 service', async () => {
        hs = await setUpHostsService(ctx);
      });
      const h = hs as HostsService | null;
      if (h) {
        try {
          for (let round = 0; round < config.runs; round++) {
            log(`item 8, hosts, run ${round + 1}/${config.runs}`);
            await attempt(`item 8 run ${round + 1}`, () => hostsRound(ctx, h, round));
          }
        } finally {
          if (!interrupted) await tearDownHosts(h);
        }
      }
    }
  } finally {
    if (!interrupted) await cleanup();
  }
  // Interrupted: the signal handler cleans up and exits.
  if (interrupted) return new Promise<number>(() => undefined);
  const left = processesMentioning(`${root}/`);
  if (left.length > 0) results.error(`processes left under ${root}: ${left.join(', ')}`);

  const minutes = (now() - started) / 60_000;
  const report = render(config.mode, config.runs, machine, results, minutes);
  console.log(`\n${report}`);
  if (args.write) {
    const dir = join(PROJECT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    // A run of some items only must not replace the day's run of them all.
    const some = [...args.only].sort((a, b) => a - b);
    const subset = ITEMS.every((i) => args.only.has(i)) ? '' : `-item${some.length > 1 ? 's' : ''}-${some.join('-')}`;
    // Nor may a later run of the same day replace an earlier one: it is named after its commit.
    const base = join(dir, `${machine.date.slice(0, 10)}-${config.mode}${subset}`);
    const file = existsSync(`${base}.md`) ? `${base}-${machine.commit.split(' ')[0]}.md` : `${base}.md`;
    writeFileSync(file, `${report}\n`);
    log(`written to ${file}`);
  }
  return results.errors.length > 0 ? 1 : 0;
}

function render(mode: string, runs: number, machine: ReturnType<typeof machineInfo>, r: Results, minutes: number): string {
  const argv = process.argv.slice(2);
  const cmd = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  const parts = [
    `# Benchmark results: ${machine.date.slice(0, 10)}, ${mode}`,
    '',
    `\`${cmd}\`: ${runs} run${runs > 1 ? 's' : ''} per item (the figures' "runs" column counts those that gave a value), ${minutes.toFixed(1)} minutes in all. ` +
      'Medians, with the min–max of the runs; ratios are taken within each run, on the same machine minutes apart. See bench/README.md for what each figure means.',
    '',
    '## Machine',
    '',
    machineTable(machine),
    '',
    '## Figures',
    '',
    r.figureTable(),
    '',
    ...r.gridTables().flatMap((t) => [t, '']),
    '## Ratios',
    '',
    r.ratioTable(),
    '',
  ];
  if (r.notes.length > 0) parts.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  if (r.errors.length > 0) parts.push('## Failures', '', ...r.errors.map((e) => `- ${e}`), '');
  parts.push('## Every run', '', r.rawTable());
  return parts.join('\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
