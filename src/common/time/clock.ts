import { Injectable } from '@nestjs/common';
import { fromMicros, Timestamp } from './timestamp';

/** The source of "now". A port, so time-dependent rules and services are testable without sleeps. */
export abstract class Clock {
  /** Integer microseconds since the epoch. */
  abstract nowMicros(): number;

  now(): Timestamp {
    return fromMicros(this.nowMicros());
  }
}

/**
 * Wall-clock time with µs resolution, strictly increasing within the process (two calls never return the
 * same value, so states stamped in a row never collide on the (run, timestamp) unique index).
 */
@Injectable()
export class SystemClock extends Clock {
  private last = 0;

  nowMicros(): number {
    const hr = process.hrtime.bigint();
    const micros = Date.now() * 1000 + Number((hr / 1000n) % 1000n);
    this.last = micros > this.last ? micros : this.last + 1;
    return this.last;
  }
}

/** A clock that only moves when told to; for tests. */
export class FakeClock extends Clock {
  constructor(private micros: number = Date.UTC(2026, 0, 1) * 1000) {
    super();
  }

  nowMicros(): number {
    return this.micros;
  }

  advance(seconds: number): void {
    this.micros += Math.round(seconds * 1e6);
  }

  set(micros: number): void {
    this.micros = micros;
  }
}
