import { Logger } from '@nestjs/common';
import { type BacklogSource, watchCatchUp } from './catch-up';

describe(watchCatchUp.name, () => {
  const logger = new Logger('test');
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  const busWith = (backlogs: number[]): BacklogSource => ({
    backlog: () => Promise.resolve({ g: backlogs.length > 1 ? backlogs.shift()! : backlogs[0] }),
  });

  it('should report nothing on a fresh start (backlog within the threshold)', async () => {
    const reports: (string | undefined)[] = [];
    await watchCatchUp(
      busWith([5]),
      'g',
      10,
      (d) => reports.push(d),
      () => false,
      logger,
      1,
    );
    expect(reports).toEqual([]);
  });

  it('should report not ready while a recovery backlog drains, then clear', async () => {
    const reports: (string | undefined)[] = [];
    await watchCatchUp(
      busWith([5000, 3000, 8]),
      'g',
      10,
      (d) => reports.push(d),
      () => false,
      logger,
      1,
    );
    expect(reports).toEqual([
      "catching up: 5000 events behind in 'g'",
      "catching up: 3000 events behind in 'g'",
      undefined,
    ]);
  });

  it('should stop (and clear) when the service stops', async () => {
    const reports: (string | undefined)[] = [];
    let stopped = false;
    const watching = watchCatchUp(
      busWith([5000]),
      'g',
      10,
      (d) => reports.push(d),
      () => stopped,
      logger,
      1,
    );
    await new Promise((r) => setTimeout(r, 10));
    stopped = true;
    await watching;
    expect(reports.at(-1)).toBeUndefined();
  });
});
