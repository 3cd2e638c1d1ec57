/** torch.distributed for paprec: the torchrun environment, the process group, user sharding, the launcher. */
export { distEnv, rankDevice, type DistEnv } from './env.js';
export { ProcessGroup } from './group.js';
export { joinFromEnv, withGroup } from './join.js';
export { gatherRows, localAssignment, localExampleSet, rankUsers, shardRows, type RowShard } from './shard.js';
export { ShardedBackend } from './backend.js';
export { launch, type LaunchOptions, type LaunchResult } from './launch.js';
export { isRoot, rankDeviceOf } from './roles.js';
