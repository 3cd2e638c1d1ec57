// Slot gradients (paper Eq. 6 / 8) and the HotFlip candidate scores -e_t . g over the vocabulary.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "engine/example_set.h"
#include "model/t5.h"

namespace paprec {

struct SlotGradientOptions {
  bool per_user = false;
  int64_t sample = 0;        // > 0: a seeded random subset of this many examples
  uint64_t seed = 0;
  int64_t shards = 1;
};

// Averaging: every example contributes the gradient of ITS OWN P5 loss (not the batch mean) w.r.t. the input
// embedding at each slot position; task slot j gets the mean over the examples that have slot j, the user slot of
// user u the mean over u's examples (0 and count 0 for users without examples).
struct SlotGradients {
  torch::Tensor task;         // [num_task_slots, d_model] float, CPU
  torch::Tensor user;         // [num_users, d_model] float, CPU (per_user only)
  torch::Tensor user_counts;  // [num_users] int32 (per_user only)
  torch::Tensor task_counts;  // [num_task_slots] int32
  double loss = 0;            // mean P5 loss over the examples used
  int64_t examples = 0;
};

// Weights frozen (no weight gradient is computed), the model's dropout mode as set by the caller (eval).
SlotGradients slot_gradients(const P5Model& model, const ResidentSet& set, const Assignment& a,
                             const SlotGradientOptions& o);

struct Candidates {
  torch::Tensor ids;     // [rows, k] int32
  torch::Tensor scores;  // [rows, k] float
};

// Top-k of -E g per row over the vocabulary, restricted to mask (uint8/bool [V], 1 = allowed), in chunks of rows
// so that at most ~`chunk_elements` scores exist at once (22k users x 32k vocabulary is never materialised).
Candidates top_candidates(const P5Model& model, const torch::Tensor& gradients, int64_t k, const torch::Tensor& mask,
                          int64_t chunk_elements = 16 << 20);

}  // namespace paprec
