// Slot gradients (paper Eq. 6 / 8) and the HotFlip candidates: top-k of -e_t . g over the vocabulary.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "dist/group.h"
#include "engine/example_set.h"
#include "model/t5.h"

namespace paprec {

struct SlotGradientOptions {
  bool per_user = false;
  int64_t sample = 0;        // > 0: a seeded random subset of this many examples
  uint64_t seed = 0;
  int64_t shards = 1;
  bool use_rows = false;     // only the examples in `rows` (a shard's part of a sample drawn over the whole set)
  std::vector<int64_t> rows;
  // Distributed: the task-slot gradient sums, their counts and the loss are summed over the group's ranks before
  // the means (every rank then holds the mean over all ranks' examples). User slots stay local: a user's examples
  // all live on one rank.
  std::shared_ptr<DistGroup> reduce;
};

// The examples a seeded sample of `sample` out of `n` takes (SlotGradientOptions.sample), in the order drawn.
std::vector<int64_t> sample_rows(int64_t n, int64_t sample, uint64_t seed);

// Averaging: every example contributes the gradient of ITS OWN P5 loss (not the batch mean) w.r.t. the input
// embedding at each slot position; task slot j gets the mean over the examples that have slot j, the user slot of
// user u the mean over u's examples (0 and count 0 for users without examples).
struct SlotGradients {
  torch::Tensor task;         // [num_task_slots, d_model] float, on the model's device
  torch::Tensor user;         // [num_users, d_model] float, on the model's device (per_user only)
  torch::Tensor user_counts;  // [num_users] int32, CPU (per_user only)
  torch::Tensor task_counts;  // [num_task_slots] int32, CPU
  double loss = 0;            // mean P5 loss over the examples used
  int64_t examples = 0;
};

// Weights frozen (no weight gradient is computed), the model's dropout mode as set by the caller (eval). The sums
// are reduced in batch order on the device, so the result does not depend on the shard count. Throws naming the
// slot (or user index) and dimension where a gradient is first NaN / infinite.
SlotGradients slot_gradients(const P5Model& model, const ResidentSet& set, const Assignment& a,
                             const SlotGradientOptions& o);

struct Candidates {
  torch::Tensor ids;     // [rows, k] int32, CPU
  torch::Tensor scores;  // [rows, k] float, CPU
};

// Top-k of -E g per row over the vocabulary, best first (equal scores: lower id first), restricted to mask (uint8 /
// bool [V], 1 = allowed; any device), never exclude[row] when `exclude` (long [rows]) is given. In chunks of rows so
// that at most ~`chunk_elements` scores exist at once (22k users x 32k vocabulary is never materialised).
Candidates top_candidates(const P5Model& model, const torch::Tensor& gradients, int64_t k, const torch::Tensor& mask,
                          const torch::Tensor& exclude = {}, int64_t chunk_elements = 16 << 20);

// One round's candidates from the resident set: the slot gradients, then top-k per task slot (and per user), the
// assignment's current token of each row excluded. Only ids leave the device.
struct SlotCandidates {
  torch::Tensor task;         // [num_task_slots, k] int32
  torch::Tensor user;         // [num_users, k] int32 (per_user only)
  torch::Tensor user_counts;  // [num_users] int32 (per_user only)
  double loss = 0;
  int64_t examples = 0;
};

SlotCandidates slot_candidates(const P5Model& model, const ResidentSet& set, const Assignment& a,
                               const torch::Tensor& mask, int64_t k, const SlotGradientOptions& o);

}  // namespace paprec
