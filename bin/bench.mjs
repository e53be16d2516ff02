#!/usr/bin/env node
// `npm run bench`: runs every benchmark in test/bench/, each comparing flashlab with a named
// peer in the same run and printing ratios. Pass names to run a subset: `npm run bench -- tftp`.
import { register } from 'tsx/esm/api';

register();
await import('../test/bench/index.ts');
