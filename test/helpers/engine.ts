/**
 * Is there a container engine for the container tests? They skip with the engine's own
 * reason only where none answers (a laptop without Docker); CI sets
 * FLASHLAB_REQUIRE_CONTAINERS=1 and then a missing engine is a failure, never a skip.
 */
import { ContainerEngine } from '../../lab/runtime/container/engine.ts';

export const containersRequired = process.env.FLASHLAB_REQUIRE_CONTAINERS === '1';

/** undefined when an engine answers, else why not (the engine client's words). */
export async function engineProblem(): Promise<string | undefined> {
  try {
    await new ContainerEngine().ping();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A lab name no other test run uses (engine objects are named after it). */
export const uniqueLabName = (what: string): string => `t${what}${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
