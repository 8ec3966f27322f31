import { AppError } from '../../util/errors.js';

/**
 * Splits a SQL dump into the statements the `mariadb` client would send, incrementally (a dump
 * may be many gigabytes; only one statement is held at a time). It follows the client's lexical
 * rules: quoted strings with backslash escapes, backquoted names, `#` and `-- ` and block
 * comments, executable comments (`/*!` and `/*M!` up to the comment's end, whose text the server
 * runs), and the
 * `DELIMITER` command that dumps with routines and triggers use.
 */

/** One piece of a dump, in order; concatenating every `text` gives the dump back unchanged. */
export type DumpItem =
  /** A statement, with its delimiter; `line` is where its first word is. */
  | { kind: 'statement'; line: number; text: string }
  /** A client command (`DELIMITER ;;`), one whole line. */
  | { kind: 'command'; line: number; text: string }
  /** Whitespace and comments with no statement (the end of the dump). */
  | { kind: 'trivia'; line: number; text: string };

/** Largest line and statement accepted: the servers' `max_allowed_packet` (my.cnf). */
export const MAX_STATEMENT_BYTES = 64 * 1024 * 1024;

type State = 'code' | 'squote' | 'dquote' | 'btick' | 'lcomment' | 'bcomment';

const SQUOTE_STOPS = /['\\]/g;
const DQUOTE_STOPS = /["\\]/g;
const BTICK_STOPS = /`/g;
const LINE_END = /\n/g;
const COMMENT_END = /\*\//g;

/** Splits a dump fed in pieces (`push`, then `end`) into DumpItems, holding one statement at a time. */
export class StatementSplitter {
  /** The pieces of a line whose end has not arrived yet. */
  private partial: string[] = [];
  private partialLength = 0;
  private lineNo = 0;
  private state: State = 'code';
  /** Inside an executable comment: code, ended by the comment's end. */
  private inExec = false;
  private delimiter = ';';
  private stmt: string[] = [];
  private stmtBytes = 0;
  private firstLine = 0;
  private codeStopsFor = '';
  private codeStopsRe = /x/g;

  /** Feeds the next piece of the dump; returns the items completed by it. Throws INVALID_PARAMS for a line or statement over the size limit. */
  push(chunk: string): DumpItem[] {
    const out: DumpItem[] = [];
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      const head = chunk.slice(start, nl + 1);
      // A line cut across chunks is joined once, when its end arrives (never copied per chunk).
      this.line(this.partial.length > 0 ? this.partial.join('') + head : head, out);
      this.partial = [];
      this.partialLength = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.partial.push(chunk.slice(start));
      this.partialLength += chunk.length - start;
      if (this.partialLength > MAX_STATEMENT_BYTES) throw new AppError('INVALID_PARAMS', `line ${this.lineNo + 1} of the dump is longer than ${MAX_STATEMENT_BYTES / 1024 / 1024} MiB`);
    }
    return out;
  }

  /** The end of the dump: the last line, and whatever statement is left without a delimiter. */
  end(): DumpItem[] {
    const out: DumpItem[] = [];
    if (this.partial.length > 0) this.line(this.partial.join(''), out);
    this.partial = [];
    this.partialLength = 0;
    const rest = this.stmt.join('');
    if (rest !== '') out.push(this.firstLine > 0 ? { kind: 'statement', line: this.firstLine, text: rest } : { kind: 'trivia', line: this.lineNo, text: rest });
    this.stmt = [];
    return out;
  }

  private line(line: string, out: DumpItem[]): void {
    this.lineNo++;
    if (this.state === 'code' && !this.inExec && this.firstLine === 0) {
      const m = /^\s*delimiter\s+(\S+)/i.exec(line);
      if (m) {
        this.flushTrivia(out);
        out.push({ kind: 'command', line: this.lineNo, text: line });
        this.delimiter = m[1]!;
        return;
      }
    }
    let from = 0;
    for (let i = this.next(line, 0); i < line.length; i = this.next(line, i + 1)) {
      const ch = line[i]!;
      switch (this.state) {
        case 'code':
          if (!this.inExec && line.startsWith(this.delimiter, i)) {
            const end = i + this.delimiter.length;
            this.append(line.slice(from, end));
            const text = this.stmt.join('');
            // A delimiter with nothing before it is an empty statement: the client sends nothing.
            out.push(this.firstLine > 0 ? { kind: 'statement', line: this.firstLine, text } : { kind: 'trivia', line: this.lineNo, text });
            this.stmt = [];
            this.stmtBytes = 0;
            this.firstLine = 0;
            from = end;
            i = end - 1;
          } else if (ch === "'") this.enter('squote');
          else if (ch === '"') this.enter('dquote');
          else if (ch === '`') this.enter('btick');
          else if (ch === '#' || (ch === '-' && line[i + 1] === '-' && /^[\s]?$/.test(line[i + 2] ?? ''))) this.state = 'lcomment';
          else if (ch === '/' && line[i + 1] === '*') {
            const exec = line[i + 2] === '!' || (line[i + 2] === 'M' && line[i + 3] === '!');
            if (exec) {
              this.inExec = true;
              this.markFirst();
              i += line[i + 2] === '!' ? 2 : 3;
            } else {
              this.state = 'bcomment';
              i += 1;
            }
          } else if (this.inExec && ch === '*' && line[i + 1] === '/') {
            this.inExec = false;
            i += 1;
          } else if (!/\s/.test(ch)) this.markFirst();
          break;
        case 'squote':
        case 'dquote':
          if (ch === '\\') i++;
          else if (ch === (this.state === 'squote' ? "'" : '"')) this.state = 'code';
          break;
        case 'btick':
          if (ch === '`') this.state = 'code';
          break;
        case 'lcomment':
          if (ch === '\n') this.state = 'code';
          break;
        case 'bcomment':
          if (ch === '*' && line[i + 1] === '/') {
            this.state = 'code';
            i += 1;
          }
          break;
      }
    }
    this.append(line.slice(from));
  }

  /**
   * The next position from `i` where something can change (a quote, a comment's end, the
   * delimiter…): the long stretches of values inside a dump are skipped with one search.
   */
  private next(line: string, i: number): number {
    let re: RegExp;
    switch (this.state) {
      case 'code':
        if (this.firstLine === 0) return i; // every character counts until the statement's first word
        re = this.codeStops;
        break;
      case 'squote':
        re = SQUOTE_STOPS;
        break;
      case 'dquote':
        re = DQUOTE_STOPS;
        break;
      case 'btick':
        re = BTICK_STOPS;
        break;
      case 'lcomment':
        re = LINE_END;
        break;
      case 'bcomment':
        re = COMMENT_END;
        break;
    }
    re.lastIndex = i;
    const m = re.exec(line);
    return m ? m.index : line.length;
  }

  /** Where code may change state: a quote, a comment, the end of an executable comment, the delimiter. */
  private get codeStops(): RegExp {
    if (this.codeStopsFor !== this.delimiter) {
      this.codeStopsRe = new RegExp(`['"\`#/*-]|${this.delimiter[0]!.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')}`, 'g');
      this.codeStopsFor = this.delimiter;
    }
    return this.codeStopsRe;
  }

  private enter(state: State): void {
    this.markFirst();
    this.state = state;
  }

  private markFirst(): void {
    if (this.firstLine === 0) this.firstLine = this.lineNo;
  }

  private append(text: string): void {
    if (text === '') return;
    this.stmt.push(text);
    this.stmtBytes += text.length;
    if (this.stmtBytes > MAX_STATEMENT_BYTES) {
      throw new AppError('INVALID_PARAMS', `the statement at line ${this.firstLine || this.lineNo} of the dump is larger than ${MAX_STATEMENT_BYTES / 1024 / 1024} MiB`);
    }
  }

  private flushTrivia(out: DumpItem[]): void {
    const text = this.stmt.join('');
    if (text !== '') out.push({ kind: 'trivia', line: this.lineNo, text });
    this.stmt = [];
    this.stmtBytes = 0;
  }
}

/** A word of a statement, as the classification reads it. */
export type Token =
  /** A keyword or bare name, upper-cased. */
  | { t: 'word'; v: string }
  /** A backquoted name, upper-cased without its quotes. */
  | { t: 'name'; v: string }
  /** A variable: `@x`, `@@x`, `@@global.x` (upper-cased). */
  | { t: 'var'; v: string }
  | { t: 'string' }
  | { t: 'symbol'; v: string };

/**
 * The words of one statement, outside strings and comments (executable comments are code),
 * at most `limit` of them.
 */
export function tokenize(text: string, limit = 100_000): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n && out.length < limit) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '#' || (ch === '-' && next === '-' && /^[\s]?$/.test(text[i + 2] ?? ''))) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (ch === '/' && next === '*') {
      if (text[i + 2] === '!' || (text[i + 2] === 'M' && text[i + 3] === '!')) {
        i += text[i + 2] === '!' ? 3 : 4;
        while (i < n && /[0-9]/.test(text[i]!)) i++;
      } else {
        const end = text.indexOf('*/', i + 2);
        i = end < 0 ? n : end + 2;
      }
    } else if (ch === '*' && next === '/') {
      i += 2; // the end of an executable comment
    } else if (ch === "'" || ch === '"') {
      i++;
      while (i < n && text[i] !== ch) i += text[i] === '\\' ? 2 : 1;
      i++;
      out.push({ t: 'string' });
    } else if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      const stop = end < 0 ? n : end;
      out.push({ t: 'name', v: text.slice(i + 1, stop).toUpperCase() });
      i = stop + 1;
    } else if (ch === '@') {
      const m = /^@@?(?:[A-Za-z0-9_$.]+|`[^`]*`|'[^']*')?/.exec(text.slice(i, i + 256))!;
      out.push({ t: 'var', v: m[0].toUpperCase() });
      i += m[0].length;
    } else if (/[A-Za-z0-9_$]/.test(ch)) {
      const m = /^[A-Za-z0-9_$]+/.exec(text.slice(i, i + 256))!;
      out.push({ t: 'word', v: m[0].toUpperCase() });
      i += m[0].length;
    } else {
      out.push({ t: 'symbol', v: ch });
      i++;
    }
  }
  return out;
}
