// Sharded passes over the batches of a resident example set. The batches are fixed at upload, so results never
// depend on the shard count: a shard only decides which worker computes a batch, and every batch writes its own
// result slot, reduced afterwards in batch order.
//  - CUDA: one stream per shard (from the stream pool), one host thread per shard driving it.
//  - CPU: the shards run across the intra-op thread pool (at::parallel_for), each shard single-threaded inside
//    (LibTorch runs ops sequentially inside a parallel region); one shard = sequential batches, ops multi-threaded.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace paprec {

// The shard count used when the caller does not choose: CUDA 4 streams (H200, p5-small surrogate pass: 1.8x over one
// stream), CPU 1 (2 single-threaded shards were 1.3x slower than 1 shard with 2 intra-op threads on 2 cores).
int64_t default_shards(const torch::Device& device);

// Runs work(batch) for batch in [0, num_batches) on `shards` shards (batch i goes to shard i % shards, so long and
// short batches spread evenly). Throws std::invalid_argument when shards < 1 or shards > num_batches. `work` must
// set its own grad mode (it runs on other threads); the first exception of any shard is rethrown.
void run_sharded(const torch::Device& device, int64_t num_batches, int64_t shards,
                 const std::function<void(int64_t batch)>& work);

}  // namespace paprec
