// Backbone training: teacher-forced P5 loss, AdamW with decoupled weight decay (or nanoT5's AdamW-scale, whose step
// is relative to each tensor's RMS), linear warm-up then linear decay, global gradient-norm clipping, dropout on.
// Reproducible on CPU: the batch plan comes from (seed, epoch) and each batch shard draws its dropout masks from a
// generator seeded by (seed, step, shard), so a run resumed from a saved state takes exactly the steps an
// uninterrupted run takes (for the same shard count).
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "dist/group.h"
#include "engine/rows.h"
#include "model/t5.h"

namespace paprec {

struct TrainOptions {
  double lr = 1e-3;
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // 0: constant lr after warm-up
  double clip_norm = 1.0;   // <= 0: no clipping
  uint64_t seed = 0;
  bool bf16_autocast = false;  // matmuls in bf16 (CUDA, or a CPU with AMX / AVX512-BF16), weights and optimizer state in fp32
  bool rms_scaled = false;     // AdamW-scale: each tensor's step is lr x max(1e-3, RMS(tensor))
  int64_t shards = 0;          // CPU: parallel batch shards per step (0: one per intra-op thread, >= 8 rows each)
  // Data-parallel over a process group: every rank walks the same batch plan, takes the shards g = rank, rank +
  // world, ... of each step's batch (so a shard's rows and dropout masks are those of a one-process run with the
  // same shard count), and the gradients and loss are summed over the ranks before the (identical) update.
  std::shared_ptr<DistGroup> dist;
};

struct EpochOptions {
  int64_t epoch = 0;
  int64_t batch_size = 64;
  int64_t start_batch = 0;     // skip the first batches of the plan (resume inside an epoch)
  int64_t nan_at_step = -1;    // test hook: make the loss of this global step NaN
};

struct StepProgress {
  int64_t step = 0;          // global optimizer steps taken
  int64_t batch = 0;         // batches of this epoch done (including skipped ones)
  int64_t batches = 0;       // batches in this epoch's plan
  int64_t examples = 0;      // examples trained on in this call
  double loss = 0;           // this step's batch loss
  double mean_loss = 0;      // mean over this call's steps
  double examples_per_second = 0;
  double lr = 0;
  double grad_norm = 0;
};

struct EpochResult {
  StepProgress last;
  bool stopped = false;      // the stop flag ended the epoch early
  bool non_finite = false;   // a loss or gradient was NaN / infinite; that step was not applied
  int64_t non_finite_step = -1;
};

// The AdamW moments of one parameter.
struct AdamMoments {
  torch::Tensor exp_avg, exp_avg_sq;
};

class Trainer {
 public:
  Trainer(P5Model& model, const TrainOptions& options);

  const TrainOptions& options() const { return options_; }
  int64_t step() const { return step_.load(); }  // atomic: read by the JS thread while an epoch runs
  double lr_at(int64_t step) const;

  // One pass over `data`'s batch plan for `epoch` (rows validated at upload). `progress` is called after every step (from this thread).
  // Checks `stop` between steps. The model is in training mode during the call and back in eval mode after.
  EpochResult run_epoch(const Rows& data, const EpochOptions& epoch, const std::atomic<bool>& stop,
                        const std::function<void(const StepProgress&)>& progress);

  // Per-example P5 loss with dropout off, in data order.
  torch::Tensor evaluate_loss(const Rows& data, int64_t batch_size) const;

  // Optimizer state by parameter name (float32, CPU), for checkpoints.
  std::vector<std::string> names() const { return model_.names(); }
  const std::vector<AdamMoments>& moments() const { return moments_; }
  void set_state(int64_t step, std::vector<AdamMoments> moments);

 private:
  void apply_update(const std::vector<torch::Tensor>& grads, double lr);
  // The batch's mean loss and its gradients. On CPU the batch is split into shards (engine/shards.h: the count from
  // training_shards, rows dealt round-robin) whose forward and backward passes run in parallel, single-threaded
  // each, and whose gradients are summed in shard order.
  std::pair<double, std::vector<torch::Tensor>> loss_and_gradients(const Rows& data,
                                                                   const std::vector<int64_t>& rows,
                                                                   uint64_t step_seed, bool make_nan,
                                                                   bool& stop_vote) const;

  P5Model& model_;
  TrainOptions options_;
  std::atomic<int64_t> step_{0};
  std::vector<AdamMoments> moments_;   // in model_.names() order
  std::vector<bool> decay_;            // weight decay applies (not to layer norms)
};

}  // namespace paprec
