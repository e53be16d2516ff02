#!/usr/bin/env node
// The `flashlab` command: loads the TypeScript sources through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lab/cli/main.ts');
await main();
