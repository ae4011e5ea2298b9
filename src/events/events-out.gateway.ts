import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { EventsStreamService } from './events-stream.service';

/** `WS /api/events/out` (docs/reference.md §3.4): only moves the socket to the stream service. */
@WebSocketGateway({ path: '/api/events/out' })
export class EventsOutGateway implements OnGatewayConnection<WebSocket> {
  constructor(private readonly stream: EventsStreamService) {}

  handleConnection(client: WebSocket): void {
    void this.stream.handle(client);
  }
}
