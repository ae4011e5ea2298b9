import { Logger, Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DeadLettersService } from '../../background/dead-letters/dead-letters.service';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app-config';
import { parseReceivedEvent } from '../event.schema';
import { BusObserver, EVENT_BUS_DEAD_LETTER_SOURCE } from './bus-observer';
import { EventBus } from './event-bus';
import { InMemoryEventBus } from './in-memory-event-bus';
import { PostgresEventBus } from './postgres-event-bus';
import { RedisEventBus } from './redis-event-bus';

const logger = new Logger('EventBus');

/**
 * Binds the `EventBus` port on `PREFECT_SERVER_EVENTS_MESSAGING_BROKER`: `postgres` (default, durable, on the
 * app's database), `redis`, or `memory` (tests: a crash loses its backlog).
 * Events a bus gives up on go to the dead-letter table (source `event-bus`, payload `{group, event}`); a
 * replay puts the event back into that group.
 */
export const eventBusProvider: Provider = {
  provide: EventBus,
  inject: [AppConfig, MetricsService, DeadLettersService, DataSource],
  useFactory: (
    config: AppConfig,
    metrics: MetricsService,
    deadLetters: DeadLettersService,
    dataSource: DataSource,
  ): EventBus => {
    const busDeadLetters = metrics.counter(
      'prefect_event_bus_dead_letters_total',
      'Events a bus gave up delivering to a group, moved to the dead-letter table',
      ['group'],
    );
    const observer: BusObserver = {
      deadLetter: async (group, event, attempts, reason) => {
        await deadLetters.record(EVENT_BUS_DEAD_LETTER_SOURCE, `Delivery to '${group}' failed: ${reason}`, [
          { payload: { group, event }, attempts },
        ]);
        busDeadLetters.inc({ group });
      },
    };
    const bus = createBus(config, dataSource, observer);
    if (bus instanceof PostgresEventBus) {
      // What an acknowledgement waits for: one committed append (a commit window's requests together).
      const appendSeconds = metrics.histogram(
        'prefect_event_log_append_duration_seconds',
        'Duration of one append to the event log (waiting for a connection, serialising, committing)',
        [],
        [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      );
      const appendEvents = metrics.histogram(
        'prefect_event_log_append_events',
        'Events per committed append to the event log',
        [],
        [1, 10, 50, 100, 250, 500, 1000, 2000],
      );
      bus.appendTimer = (events, ms) => {
        appendSeconds.observe(ms / 1000);
        appendEvents.observe(events);
      };
    }
    metrics.gauge(
      'prefect_event_bus_backlog',
      'Events waiting in the bus per consumer group (Redis: lag + pending)',
      ['group'],
      async (g) => {
        const backlog = await Promise.resolve(bus.backlog()).catch(() => ({}));
        for (const [group, n] of Object.entries(backlog)) {
          g.set({ group }, n);
        }
      },
    );
    deadLetters.registerReplayHandler(EVENT_BUS_DEAD_LETTER_SOURCE, async (payload) => {
      const { group, event } = payload as { group: string; event: unknown };
      const parsed = parseReceivedEvent(event, {
        ...config.events,
        maximumSizeBytes: Number.MAX_SAFE_INTEGER,
      });
      if ('issues' in parsed) {
        throw new Error('dead letter does not hold an event');
      }
      await bus.redeliver(group, parsed.event);
    });
    logger.log({ msg: 'event bus', broker: config.events.messagingBroker });
    return bus;
  },
};

function createBus(config: AppConfig, dataSource: DataSource, observer: BusObserver): EventBus {
  const broker = config.events.messagingBroker;
  switch (broker) {
    case 'redis':
      return new RedisEventBus(
        config.events.redisUrl ?? 'redis://127.0.0.1:6379',
        { stream: config.events.redisStream, claimIdleMs: config.events.redisClaimIdle * 1000 },
        observer,
      );
    case 'memory':
      return new InMemoryEventBus({}, observer);
    case 'postgres': {
      const { url } = dataSource.options as { url?: string };
      if (!url) {
        throw new Error('the postgres event bus needs the database URL');
      }
      const timeout = config.database.statementTimeout > 0 ? config.database.statementTimeout : 60;
      return new PostgresEventBus(
        url,
        {
          commitWindowMs: Math.min(config.events.commitWindow, 0.02) * 1000,
          queryTimeoutMs: Math.min(timeout, 30) * 1000,
          connectTimeoutMs: config.database.connectTimeout * 1000,
        },
        observer,
      );
    }
  }
}
