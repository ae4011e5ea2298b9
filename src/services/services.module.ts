import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeadLetterReplayer } from './dead-letters/dead-letter-replayer.service';
import { DeadLetterEntity } from './dead-letters/dead-letter.entity';
import { DeadLettersController } from './dead-letters/dead-letters.controller';
import { DeadLettersService } from './dead-letters/dead-letters.service';
import { ServicesRegistry, ServicesRunner } from './services.registry';

/**
 * The services framework: the registry of every `@BackgroundService`, the runner that starts the enabled ones
 * with the app and stops them before the database closes, and the dead-letter table. Global so that feature
 * modules can record dead letters without importing it.
 */
@Global()
@Module({
  imports: [DiscoveryModule, TypeOrmModule.forFeature([DeadLetterEntity])],
  controllers: [DeadLettersController],
  providers: [ServicesRegistry, ServicesRunner, DeadLettersService, DeadLetterReplayer],
  exports: [ServicesRegistry, DeadLettersService],
})
export class ServicesModule {}
