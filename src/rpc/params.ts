import type { z } from 'zod';
import { AppError } from '../util/errors.js';

/** Describes one zod issue in words that name the parameter. */
function describeIssue(issue: z.ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.join('.') : '';
  switch (issue.code) {
    case 'unrecognized_keys': {
      // Names are cut short: an error names the problem, it does not echo the request back.
      const shown = issue.keys.slice(0, 5).map((k) => `'${prefix(path, k).slice(0, 64)}'`);
      const more = issue.keys.length > 5 ? ` and ${issue.keys.length - 5} more` : '';
      return `unexpected parameter${issue.keys.length > 1 ? 's' : ''} ${shown.join(', ')}${more}`;
    }
    case 'invalid_type':
      if (issue.received === 'undefined') return `missing parameter '${path}' (${issue.expected})`;
      return `parameter '${path || 'params'}' must be ${article(issue.expected)}, got ${issue.received}`;
    default:
      return `parameter '${path || 'params'}' ${lowerFirst(issue.message)}`;
  }
}

function prefix(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Validates params against a method's schema, or throws INVALID_PARAMS naming each problem. */
export function parseParams<S extends z.ZodTypeAny>(method: string, schema: S, raw: unknown): z.output<S> {
  // ConPaaS's PHP frontend sends no params as `[]` (json_encode of an empty array): the same as `{}`.
  const input = raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0) ? {} : raw;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new AppError('INVALID_PARAMS', `${method}: params must be a JSON object`);
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map(describeIssue);
    throw new AppError('INVALID_PARAMS', `${method}: ${problems.join('; ')}`);
  }
  return parsed.data as z.output<S>;
}
