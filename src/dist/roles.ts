/** What a rank of a distributed command does differently: rank 0 writes; each rank runs on its own device. */
import { native } from '../native.js';
import { rankDevice } from './env.js';
import type { ProcessGroup } from './group.js';

/** True for a one-process run and for rank 0: the process that writes the output folder. */
export const isRoot = (o: { group?: ProcessGroup | undefined }): boolean => !o.group || o.group.isRoot;

/** The device of this rank (cuda:LOCAL_RANK for `cuda` / `auto` with CUDA), or the one asked for. */
export function rankDeviceOf(o: { device?: string | undefined; group?: ProcessGroup | undefined }): string {
  return rankDevice(o.device ?? 'auto', o.group?.env, o.group ? native().info().cudaDevices : 0);
}
