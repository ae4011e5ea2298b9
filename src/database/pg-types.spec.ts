import { intervalToSeconds } from './pg-types';

describe(intervalToSeconds.name, () => {
  it.each([
    ['00:00:00', 0],
    ['00:00:01.5', 1.5],
    ['01:02:03.000004', 3723.000004],
    ['1 day 00:00:02', 86402],
    ['3 days', 259200],
    ['-00:00:05', -5],
    ['1 mon 2 days 00:00:00', 32 * 86400],
  ])('should read %s as %d seconds', (text, seconds) => {
    expect(intervalToSeconds(text)).toBeCloseTo(seconds, 6);
  });
});
