import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { TaskRunSubscriptionsService } from './task-run-subscriptions.service';

/** `WS /api/task_runs/subscriptions/scheduled`: only moves the socket to the subscription service. */
@WebSocketGateway({ path: '/api/task_runs/subscriptions/scheduled' })
export class TaskRunSubscriptionsGateway implements OnGatewayConnection<WebSocket> {
  constructor(private readonly subscriptions: TaskRunSubscriptionsService) {}

  handleConnection(client: WebSocket): void {
    void this.subscriptions.handle(client);
  }
}
