const ISO_DURATION =
  /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/**
 * Parses a duration given as seconds (`5`, `0.5`) or ISO-8601 (`PT5S`, `P7D`, `P1DT2H`) into seconds.
 * Years count 365 days and months 30, as Python's pydantic does for `timedelta`.
 */
export function parseDurationSeconds(raw: string): number {
  const text = raw.trim();
  if (/^[+]?\d+(\.\d+)?$/.test(text)) {
    return Number(text);
  }
  const m = ISO_DURATION.exec(text);
  if (!m || text === 'P' || /T$/i.test(text)) {
    throw new Error(`expected seconds or an ISO-8601 duration (e.g. PT5S), got ${JSON.stringify(raw)}`);
  }
  const [y, mo, w, d, h, mi, s] = m.slice(1).map((part) => (part === undefined ? 0 : Number(part)));
  return (((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s;
}
