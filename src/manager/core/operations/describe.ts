import { ACCEPTED_STATES, SERVICE_STATES } from '../../../protocol/service-states.js';
import { OPERATION_SPECS } from './index.js';

/**
 * The operations' phase tables and the states' accepted methods, as the markdown tables of
 * docs/state-machine.md (between its `generated:` markers). A test keeps the document equal to
 * this; `npm run docs` writes it.
 */
export function describeOperations(): string {
  const rows = OPERATION_SPECS.map((spec) => {
    const phases = spec.phases.map((p) => `**${p.name}**: ${p.does}`).join(' → ');
    return `| ${spec.kinds.map((k) => `\`${k}\``).join(', ')} | ${spec.begunBy} | ${phases} | ${spec.ends} | ${spec.undoes} |`;
  });
  return ['| operation | begun by | phases, in order | ends | when abandoned |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** For each service state, the methods that need a state and are accepted in it. */
export function describeStates(): string {
  const rows = SERVICE_STATES.map((state) => {
    const methods = Object.entries(ACCEPTED_STATES)
      .filter(([, states]) => states.includes(state))
      .map(([m]) => `\`${m}\``);
    return `| \`${state}\` | ${methods.join(', ') || '—'} |`;
  });
  return ['| state | methods accepted there (every other method is accepted in any state) |', '|---|---|', ...rows].join('\n');
}

/** Replaces the text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in `doc`. */
export function withGenerated(doc: string, name: string, body: string): string {
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`the document has no ${start} … ${end} section`);
  return `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`;
}
