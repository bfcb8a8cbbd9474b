/** Text helpers of the sidebar's views: how old a timestamp is, how a value reads. */

/** "3 min ago" from an ISO timestamp. */
export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  const steps: [number, string][] = [[86400, 'd'], [3600, 'h'], [60, 'min']];
  for (const [size, unit] of steps) {
    if (seconds >= size) {
      return `${Math.floor(seconds / size)} ${unit} ago`;
    }
  }
  return 'just now';
}

/** A param or metric value as short text: 4 significant digits for floats, JSON otherwise. */
export function show(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** "1 checkpoint", "2 checkpoints". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
