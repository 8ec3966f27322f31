import { fmt, max, median, min, pairwise, valid } from './stats.js';

/** A table cell: a pipe inside would end it. */
const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** One measured figure: one value per round (NaN where that round produced none). */
export interface Figure {
  item: string;
  name: string;
  unit: string;
  values: number[];
  digits?: number;
}

/** A ratio of two figures of the same item, taken round by round. */
export interface Ratio {
  item: string;
  name: string;
  num: Figure;
  den: Figure;
}

/** Everything one benchmark run measured, and how to print it. */
export class Results {
  readonly figures: Figure[] = [];
  readonly ratios: Ratio[] = [];
  readonly notes: string[] = [];
  readonly errors: string[] = [];
  /** Items whose figures named `row: column` are shown as a grid instead of in the main table. */
  private readonly grids = new Set<string>();

  figure(item: string, name: string, unit: string, digits?: number): Figure {
    let f = this.figures.find((x) => x.item === item && x.name === name);
    if (!f) {
      f = { item, name, unit, values: [], ...(digits === undefined ? {} : { digits }) };
      this.figures.push(f);
    }
    return f;
  }

  /** Records the value of `round` (0-based) for a figure. */
  record(item: string, name: string, unit: string, round: number, value: number, digits?: number): void {
    const f = this.figure(item, name, unit, digits);
    while (f.values.length < round) f.values.push(Number.NaN);
    f.values[round] = value;
  }

  ratio(item: string, name: string, num: Figure, den: Figure): void {
    if (!this.ratios.some((r) => r.item === item && r.name === name)) this.ratios.push({ item, name, num, den });
  }

  /** Shows the figures of `item` named `row: column` as a grid of their own. */
  grid(item: string): void {
    this.grids.add(item);
  }

  /** The figures grouped by item number ("1 provisioning" before "2 …"), in recording order within an item. */
  private ordered(): Figure[] {
    const rank = (item: string): number => Number.parseInt(item, 10) || 0;
    return [...this.figures].sort((a, b) => rank(a.item) - rank(b.item));
  }

  private inGrid(f: Figure): boolean {
    return this.grids.has(f.item) && f.name.includes(': ');
  }

  note(text: string): void {
    this.notes.push(text);
  }

  error(text: string): void {
    this.errors.push(text);
  }

  /** The figures as a Markdown table: median, min–max and the number of runs that produced a value. */
  figureTable(): string {
    const lines = ['| item | figure | unit | median | min–max | runs |', '|---|---|---|---:|---:|---:|'];
    for (const f of this.ordered()) {
      if (this.inGrid(f)) continue;
      const v = valid(f.values);
      const spread = v.length > 1 ? `${fmt(min(v), f.digits)}–${fmt(max(v), f.digits)}` : '—';
      lines.push(`| ${f.item} | ${cell(f.name)} | ${f.unit} | ${fmt(median(v), f.digits)} | ${spread} | ${v.length} |`);
    }
    return lines.join('\n');
  }

  /** Ratios: of the medians, and the spread of the same ratio taken within each round. */
  ratioTable(): string {
    const lines = ['| item | ratio | of the medians | per round, min–max | rounds |', '|---|---|---:|---:|---:|'];
    for (const r of this.ratios) {
      const per = valid(pairwise(r.num.values, r.den.values));
      const ofMedians = median(r.num.values) / median(r.den.values);
      const spread = per.length > 1 ? `${fmt(min(per))}–${fmt(max(per))}` : '—';
      lines.push(`| ${r.item} | ${cell(r.name)} | ${fmt(ofMedians)}× | ${spread} | ${per.length} |`);
    }
    return lines.join('\n');
  }

  /** The grid figures of each grid item: one row per `row`, one column per `column` (unit), median and min–max. */
  gridTables(): string[] {
    const out: string[] = [];
    for (const item of this.grids) {
      const figs = this.figures.filter((f) => f.item === item && this.inGrid(f));
      if (figs.length === 0) continue;
      const split = (f: Figure): [string, string] => {
        const at = f.name.indexOf(': ');
        return [f.name.slice(0, at), f.name.slice(at + 2)];
      };
      const rowsIn = [...new Set(figs.map((f) => split(f)[0]))];
      const cols: Array<{ name: string; unit: string }> = [];
      for (const f of figs) {
        const name = split(f)[1];
        if (!cols.some((c) => c.name === name)) cols.push({ name, unit: f.unit });
      }
      const runs = Math.max(...figs.map((f) => valid(f.values).length));
      const lines = [
        `**${item}** (median, and min–max of ${runs} run${runs === 1 ? '' : 's'})`,
        '',
        `| | ${cols.map((c) => `${cell(c.name)} (${c.unit})`).join(' | ')} |`,
        `|---|${cols.map(() => '---:').join('|')}|`,
      ];
      for (const row of rowsIn) {
        const cells = cols.map((c) => {
          const f = figs.find((x) => split(x)[0] === row && split(x)[1] === c.name);
          if (!f) return '';
          const v = valid(f.values);
          return v.length > 1 ? `${fmt(median(v), f.digits)} (${fmt(min(v), f.digits)}–${fmt(max(v), f.digits)})` : fmt(median(v), f.digits);
        });
        lines.push(`| ${cell(row)} | ${cells.join(' | ')} |`);
      }
      out.push(lines.join('\n'));
    }
    return out;
  }

  /** Every value of every run, for whoever wants to recompute. */
  rawTable(): string {
    const lines = ['| item | figure | unit | values, in run order |', '|---|---|---|---|'];
    for (const f of this.ordered()) lines.push(`| ${f.item} | ${cell(f.name)} | ${f.unit} | ${f.values.map((x) => fmt(x, f.digits)).join(', ')} |`);
    return lines.join('\n');
  }
}
