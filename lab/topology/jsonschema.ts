/** The topology file's JSON Schema (for editors: `flashlab schema > topology.schema.json`). */
import { z } from 'zod';
import { TopologyFileSchema } from './schema.ts';

export function topologyJsonSchema(): Record<string, unknown> {
  // `input`: editors check what people write (sizes as "2MB"), not what the loader makes of it.
  return z.toJSONSchema(TopologyFileSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
}
