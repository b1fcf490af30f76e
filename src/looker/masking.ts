import { createHmac } from 'node:crypto';

// Personal data is masked before anything is written to disk. `hash` is a keyed HMAC-SHA256, so the same
// email hashes the same way in every run and every table (joins still work) while nobody without the key can
// test guesses against it. `redact` keeps only whether a value was present; `drop` never asks Looker for it.

export const REDACTED = '[redacted]';

export type StringMask = (value: string) => string;

export function hashMask(key: string): StringMask {
  if (key.length < 16) throw new Error('the masking hash key must be at least 16 characters long');
  return (value) => createHmac('sha256', key).update(value).digest('hex');
}

export const redactMask: StringMask = () => REDACTED;
