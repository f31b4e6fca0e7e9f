/** Vitest global setup of the `postgres` project: one throwaway cluster for the whole run (each harness gets its own schema). */
import type { TestProject } from 'vitest/node';
import { startCluster, type Cluster } from './cluster.js';

let cluster: Cluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  cluster = await startCluster();
  project.provide('pgUrl', cluster.url);
  project.provide('pgDataDir', cluster.dir);
}

export async function teardown(): Promise<void> {
  cluster?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    pgDataDir: string;
  }
}
