import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** DI token of this app instance's replica id (lease owner and task-worker tracker rows). */
export const REPLICA_ID = Symbol('REPLICA_ID');

/** A fresh id per app instance: host, pid and a random suffix (two apps in one process differ). */
export function newReplicaId(): string {
  return `${hostname().slice(0, 32)}:${process.pid}:${randomBytes(4).toString('hex')}`;
}
