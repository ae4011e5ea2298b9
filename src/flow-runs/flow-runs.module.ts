import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeploymentEntity } from './entities/deployment.entity';
import { FlowRunEntity } from './entities/flow-run.entity';
import { FlowEntity } from './entities/flow.entity';
import { FlowRunsController, FlowsController } from './flow-runs.controller';
import { FlowRunsService } from './flow-runs.service';

/** Minimal flows and flow runs (docs/reference.md §2): `flow`, `flow_run`, `deployment`. */
@Module({
  imports: [TypeOrmModule.forFeature([FlowEntity, FlowRunEntity, DeploymentEntity])],
  controllers: [FlowsController, FlowRunsController],
  providers: [FlowRunsService],
  exports: [FlowRunsService],
})
export class FlowRunsModule {}
