// The continuous (soft) prompt baseline (PAP-REC §2.2.2, §5.5): the task slots' input embeddings optimised
// directly on the P5 loss with the backbone frozen, and their nearest-token projection back to a discrete prompt.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "engine/example_set.h"
#include "model/t5.h"

namespace paprec {

struct SoftPromptOptions {
  int64_t steps = 100;
  double lr = 0.01;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam, no weight decay
  int64_t batch_size = 32;  // examples per step: consecutive slices of a seeded permutation, redrawn each pass
  uint64_t seed = 0;
  int64_t shards = 1;
};

struct SoftPromptResult {
  torch::Tensor embeddings;    // [num_task_slots, d_model] float, CPU
  std::vector<double> losses;  // the mini-batch P5 loss of every step, before its update
};

// P starts as a.slot_embeddings when given, else as the embeddings of a.task; the rows are spliced with a's tokens
// (user slots keep theirs) and the task slots' embeddings replaced by P. Each step: the mean over the mini-batch of
// each example's P5 loss (target NLL / target length), its gradient w.r.t. P only (weights frozen, the model's
// dropout mode as set by the caller: eval), one Adam step. A non-finite loss or gradient throws, naming the step.
SoftPromptResult train_soft_prompt(const P5Model& model, const ResidentSet& set, const Assignment& a,
                                   const SoftPromptOptions& o);

// The nearest token of each row of `embeddings` [rows, d_model] by Euclidean (L2) distance to the rows of the
// input embedding, among the tokens `mask` allows (uint8 [V], 1 = allowed); equal distances: the lower id. [rows]
// int32, CPU.
torch::Tensor project_soft_prompt(const P5Model& model, const torch::Tensor& embeddings, const torch::Tensor& mask);

}  // namespace paprec
