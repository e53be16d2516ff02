/** The topology file's JSON Schema (for editors: `flashlab schema > topology.schema.json`). */
import { z } from 'zod';
import { topologyFileSchema } from '../kinds/registry.ts';

export function topologyJsonSchema(): Record<string, unknown> {
  // `input`: editors check what people write (sizes as "2MB"), not what the loader makes of it.
  return z.toJSONSchema(topologyFileSchema(), { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
}
