import { Client, Connection } from '@temporalio/client';
import type { StackSettings } from '../config/stack';

/** The demo pipeline on the embedded stack (grows with the pipeline issue). */
export async function runDemo(s: StackSettings): Promise<void> {
  const connection = await Connection.connect({ address: `${s.host}:${s.temporalPort}` });
  const client = new Client({ connection, namespace: s.namespace });
  const result = await client.workflow.execute('stackCheckWorkflow', {
    taskQueue: s.taskQueue,
    workflowId: `stack-check-${Date.now()}`,
    args: [['source', 'target']],
  });
  console.log(JSON.stringify(result, null, 2));
  await connection.close();
}
