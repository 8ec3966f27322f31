import { InvalidArgumentError } from 'commander';

/** Parses a TCP port option. */
export function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

/** A parser of whole-number options from `min` to `max` (seconds, counts), refusing anything else with the range. */
export function whole(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}
