/**
 * Test-only routes and a socket that exercise the shared plumbing (validation pipe, body limits, the Prefect
 * websocket handshake) the way feature modules use it, so the cross-cutting tests (auth, fuzz) have something
 * of each kind to run against even before the feature modules exist.
 */
import { Body, Controller, Get, Module, Param, Post, Query } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsDateString,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Min,
  ValidateNested,
} from 'class-validator';
import type { WebSocket } from 'ws';
import { uuidParam } from '../../src/common/http/uuid-param';
import { CloseCode, PrefectSocket, prefectHandshake } from '../../src/common/websocket/prefect-socket';
import { AppConfig } from '../../src/config/app-config';

class ProbeStateDto {
  @IsString()
  type!: string;

  @IsOptional()
  @IsDateString()
  timestamp?: string;
}

class ProbeBodyDto {
  @IsString()
  name!: string;

  @IsOptional()
  @IsUUID()
  flow_run_id?: string;

  @IsOptional()
  @IsObject()
  parameters?: Record<string, unknown>;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  tags?: string[];

  @IsOptional()
  @ValidateNested()
  @Type(() => ProbeStateDto)
  state?: ProbeStateDto;
}

class ProbeQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  limit?: number;
}

@Controller('test-probe')
export class ProbeController {
  @Post()
  create(@Body() body: ProbeBodyDto): Record<string, unknown> {
    return { name: body.name, tags: body.tags ?? [] };
  }

  /** Answers after `ms` milliseconds (at most 2000): for clients that give up first. */
  @Get('slow')
  async slow(@Query('ms') ms?: string): Promise<{ waited: number }> {
    const waited = Math.min(Number(ms) || 0, 2000);
    await new Promise((r) => setTimeout(r, waited));
    return { waited };
  }

  @Get(':id')
  read(@Param('id', uuidParam) id: string, @Query() query: ProbeQueryDto): Record<string, unknown> {
    return { id, limit: query.limit ?? null };
  }
}

export const PROBE_SOCKET_PATH = '/api/test-probe/socket';

/** After the handshake, answers `{"type":"ping"}` with `{"type":"pong"}`; anything else closes 1002. */
@WebSocketGateway({ path: PROBE_SOCKET_PATH })
export class ProbeGateway implements OnGatewayConnection {
  constructor(private readonly config: AppConfig) {}

  handleConnection(ws: WebSocket): void {
    void this.serve(new PrefectSocket(ws)).catch(() => undefined);
  }

  private async serve(socket: PrefectSocket): Promise<void> {
    if (!(await prefectHandshake(socket, this.config.api.authString))) {
      return;
    }
    for (;;) {
      const frame = await socket.receiveJson();
      if (frame === null || frame === undefined) {
        return;
      }
      if (!('value' in frame) || (frame.value as { type?: unknown } | null)?.type !== 'ping') {
        socket.close(CloseCode.PROTOCOL_ERROR, "Expected 'ping' message");
        return;
      }
      await socket.send({ type: 'pong' });
    }
  }
}

@Module({ controllers: [ProbeController], providers: [ProbeGateway] })
export class ProbeModule {}
