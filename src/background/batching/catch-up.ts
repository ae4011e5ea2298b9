import { Logger } from '@nestjs/common';

/** What the catch-up watch needs from a bus: each consumer group's backlog (the `EventBus` port has it). */
export interface BacklogSource {
  backlog(): Promise<Record<string, number>>;
}

/**
 * After a consumer starts: while its group's backlog (what a crashed predecessor or a stopped period left) is
 * above `threshold`, report a problem, so `/api/ready` answers 503 until the recovery backlog is drained. A
 * fresh start (backlog at or below the threshold) reports nothing. Polls every `everyMs`; gives up quietly if
 * the backlog cannot be measured. Stops when `stopped()` says so.
 */
export function watchCatchUp(
  bus: BacklogSource,
  group: string,
  threshold: number,
  report: (detail: string | undefined) => void,
  stopped: () => boolean,
  logger: Logger,
  everyMs = 500,
): Promise<void> {
  return (async () => {
    let reported = false;
    for (;;) {
      if (stopped()) {
        break;
      }
      let behind: number;
      try {
        behind = (await bus.backlog())[group] ?? 0;
      } catch {
        break;
      }
      if (behind <= threshold) {
        break;
      }
      if (!reported) {
        logger.log({ msg: 'catching up on a backlog', group, events: behind });
      }
      reported = true;
      report(`catching up: ${behind} events behind in '${group}'`);
      await new Promise((r) => setTimeout(r, everyMs).unref());
    }
    if (reported) {
      report(undefined);
      logger.log({ msg: 'caught up', group });
    }
  })();
}
