/** Calendar arithmetic in the site's time zone ("energy today" means the site's today). */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Milliseconds since local midnight shown by a wall clock in `timeZone` at `ts`. */
function wallMsSinceMidnight(ts: number, timeZone: string): number {
  const parts = formatter(timeZone).formatToParts(new Date(ts));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return ((get('hour') * 60 + get('minute')) * 60 + get('second')) * 1000 + (ts % 1000 + 1000) % 1000;
}

/** The instant (ms since the Unix epoch) of the most recent midnight in `timeZone` at or before `ts`. */
export function startOfDayMs(ts: number, timeZone: string): number {
  let guess = ts - wallMsSinceMidnight(ts, timeZone);
  // On a daylight-saving day the wall clock skipped or repeated an hour since midnight;
  // correct the guess by what the wall clock shows there.
  for (let i = 0; i < 2; i++) {
    const off = wallMsSinceMidnight(guess, timeZone);
    if (off === 0) break;
    guess -= off > 12 * 3_600_000 ? off - 24 * 3_600_000 : off;
  }
  return guess;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}
