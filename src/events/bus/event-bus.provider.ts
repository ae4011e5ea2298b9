import { Logger, Provider } from '@nestjs/common';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app-config';
import { DeadLettersService } from '../../services/dead-letters/dead-letters.service';
import { parseReceivedEvent } from '../event.schema';
import { BusObserver, EVENT_BUS_DEAD_LETTER_SOURCE } from './bus-observer';
import { EventBus } from './event-bus';
import { InMemoryEventBus } from './in-memory-event-bus';
import { RedisEventBus } from './redis-event-bus';

const logger = new Logger('EventBus');

/**
 * Binds the `EventBus` port on `PREFECT_SERVER_EVENTS_MESSAGING_BROKER`: `memory` (default) or `redis`.
 * Events a bus gives up on go to the dead-letter table (source `event-bus`, payload `{group, event}`); a
 * replay puts the event back into that group.
 */
export const eventBusProvider: Provider = {
  provide: EventBus,
  inject: [AppConfig, MetricsService, DeadLettersService],
  useFactory: (config: AppConfig, metrics: MetricsService, deadLetters: DeadLettersService): EventBus => {
    const observer: BusObserver = {
      deadLetter: (group, event, attempts, reason) =>
        deadLetters.record(EVENT_BUS_DEAD_LETTER_SOURCE, `Delivery to '${group}' failed: ${reason}`, [
          { payload: { group, event }, attempts },
        ]),
    };
    const bus =
      config.events.messagingBroker === 'redis'
        ? new RedisEventBus(
            config.events.redisUrl ?? 'redis://127.0.0.1:6379',
            { stream: config.events.redisStream, claimIdleMs: config.events.redisClaimIdle * 1000 },
            observer,
          )
        : new InMemoryEventBus({}, observer);
    metrics.gauge(
      'prefect_event_bus_backlog',
      'Events waiting in the bus per consumer group (Redis: lag + pending)',
      ['group'],
      async (g) => {
        const backlog = await Promise.resolve(bus.backlog()).catch(() => ({}));
        for (const [group, n] of Object.entries(backlog)) g.set({ group }, n);
      },
    );
    deadLetters.registerReplayHandler(EVENT_BUS_DEAD_LETTER_SOURCE, async (payload) => {
      const { group, event } = payload as { group: string; event: unknown };
      const parsed = parseReceivedEvent(event, {
        ...config.events,
        maximumSizeBytes: Number.MAX_SAFE_INTEGER,
      });
      if ('issues' in parsed) throw new Error('dead letter does not hold an event');
      await bus.redeliver(group, parsed.event);
    });
    logger.log({ msg: 'event bus', broker: config.events.messagingBroker });
    return bus;
  },
};
