/**
 * The process group of a command that computes (search, eval, pretrain, recommend), from the torchrun environment:
 * none for a one-process run. `explain` turns a failure inside the run into one that names the ranks that are gone.
 */
import { native } from '../native.js';
import { distEnv, rankDevice } from './env.js';
import { ProcessGroup } from './group.js';

export async function joinFromEnv(device = 'auto', env: NodeJS.ProcessEnv = process.env): Promise<ProcessGroup | undefined> {
  const d = distEnv(env);
  if (!d) return undefined;
  return ProcessGroup.join(d, { device: rankDevice(device, d, native().info().cudaDevices) });
}

/** Runs `body` in the group of this process (or none); a failed collective's error names the lost ranks. */
export async function withGroup<T>(device: string | undefined, body: (group: ProcessGroup | undefined) => Promise<T>): Promise<T> {
  const group = await joinFromEnv(device);
  let ok = false;
  try {
    const r = await body(group);
    ok = true;
    return r;
  } catch (err) {
    throw group ? await group.explain(err) : err;
  } finally {
    if (group && ok) await group.close();
  }
}
