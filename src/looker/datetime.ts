// Looker's date-time literals: the only window formatting that belongs to Looker rather than to the window.

/** Looker's datetime literal in UTC: `2024-01-02 03:04:05`. */
export function lookerDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
