// Test hook for test/e2e/tunnel.test.ts ("VM kill -9 between storing a batch and acknowledging it"), loaded into the
// VM by Node's own preload option, so production code holds no fault switch:
//   node --import tsx --import ./test/support/vm_ingest_crash.ts bin/guardian.mjs vm --config vm.yaml
// The VM stores the first batch of events it is sent (its transaction commits) and is then killed with SIGKILL, before
// the link server can acknowledge the batch.
import { VmCache } from '../../src/vm/cache/cache.ts';

const ingest = VmCache.prototype.ingest;
VmCache.prototype.ingest = function ingestThenCrash(this: VmCache, ...args: Parameters<VmCache['ingest']>) {
  const stored = ingest.apply(this, args);
  if (stored.results.length) process.kill(process.pid, 'SIGKILL');
  return stored;
};
