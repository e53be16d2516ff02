// A TFTP session worker started from the TypeScript sources: load tsx, then the worker.
// (The node agent's bundle starts its own compiled worker file instead.)
import { register } from 'tsx/esm/api';

register();
await import('./sessionWorker.ts');
