// The one sharding policy of the engine: work items (the batches of a resident example set, the rows of a training
// batch) are dealt to shards round-robin (item i to shard i % shards) and the shards run in parallel:
//  - CUDA: one stream per shard (from the stream pool), one host thread per shard driving it.
//  - CPU: the shards run across the intra-op thread pool (at::parallel_for), each shard single-threaded inside
//    (LibTorch runs ops sequentially inside a parallel region); one shard = sequential items, ops multi-threaded.
// Evaluation batches are fixed at upload, so its results never depend on the shard count: every batch writes its
// own result slot, reduced afterwards in batch order.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace paprec {

// The shard count used when the caller does not choose: CUDA 4 streams (H200, p5-small surrogate pass: 1.8x over one
// stream), CPU 1 (2 single-threaded shards were 1.3x slower than 1 shard with 2 intra-op threads on 2 cores).
int64_t default_shards(const torch::Device& device);

// Shards of a training step over `rows` rows: `requested` when > 0, else on CPU one per intra-op thread with at
// least 8 rows each (a small model keeps two cores busier as two half-batches on one thread each than as one batch
// on both); never more than the rows; always 1 on CUDA (one stream, LibTorch's generator).
int64_t training_shards(const torch::Device& device, int64_t rows, int64_t requested);

// The items of shard `s` of `shards`: i = s, s + shards, ... below n.
std::vector<int64_t> shard_items(int64_t n, int64_t shards, int64_t s);

// Runs body(shard) for shard in [0, shards) in parallel as above (CUDA: each on its own stream and host thread).
// `body` must set its own grad mode; the first exception of any shard is rethrown.
void run_shards(const torch::Device& device, int64_t shards, const std::function<void(int64_t shard)>& body);

// Runs work(batch) for batch in [0, num_batches) on `shards` shards (batch i goes to shard i % shards, so long and
// short batches spread evenly). Throws std::invalid_argument when shards < 1 or shards > num_batches. `work` must
// set its own grad mode (it runs on other threads); the first exception of any shard is rethrown.
void run_sharded(const torch::Device& device, int64_t num_batches, int64_t shards,
                 const std::function<void(int64_t batch)>& work);

}  // namespace paprec
