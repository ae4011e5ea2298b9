import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';

/** Inserts a flow and a flow run with plain SQL (the flow-runs module is another feature's). */
export async function insertFlowRun(dataSource: DataSource, id: string = randomUUID()): Promise<string> {
  const flowId = randomUUID();
  await dataSource.query(`INSERT INTO flow (id, name) VALUES ($1, $2)`, [flowId, `flow-${flowId}`]);
  await dataSource.query(`INSERT INTO flow_run (id, name, flow_id) VALUES ($1, 'my-flow-run', $2)`, [
    id,
    flowId,
  ]);
  return id;
}
