import { Injectable, Logger } from '@nestjs/common';
import { DeadLettersService } from '../../background/dead-letters/dead-letters.service';
import { LoopService } from '../../background/loop-service';
import { BackgroundService } from '../../background/managed-service';
import { AppConfig } from '../../config/app-config';

const BATCH = 50;

/**
 * Carries out the dead-letter replays asked on processes that do not run the letter's service (API replicas
 * with SERVER_RUN_SERVICES=false), in the process that does: the replay handlers live where the services run.
 */
@BackgroundService({
  name: 'DeadLetterReplayer',
  settingsPrefix: 'PREFECT_SERVER_SERVICES_DEAD_LETTER_REPLAYER',
  description: 'Carries out dead-letter replays asked on API replicas where the services run.',
})
@Injectable()
export class DeadLetterReplayer extends LoopService {
  protected readonly logger = new Logger(DeadLetterReplayer.name);

  constructor(
    private readonly deadLetters: DeadLettersService,
    private readonly config: AppConfig,
  ) {
    super();
  }

  protected loopSeconds(): number {
    return this.config.server.deadLetterReplayerLoopSeconds;
  }

  async runOnce(): Promise<void> {
    while ((await this.deadLetters.replayRequested(BATCH)) === BATCH) {
      // a full batch: there may be more
    }
  }
}
