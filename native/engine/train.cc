#include "engine/train.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <stdexcept>

#include "engine/device.h"
#include "engine/loss.h"
#include "engine/shards.h"
#include "engine/train_data.h"

namespace paprec {
namespace {

// Source widths rounded up to a multiple of 8: a handful of distinct shapes per epoch lets the allocator reuse its
// blocks (a never-seen shape costs several times a normal step on CPU), for at most 7 padding positions.
constexpr int64_t kPadMultiple = 8;

// bf16 autocast for the duration of a scope, on the calling thread (autocast state is thread-local, so each CPU
// batch shard sets its own). Matrix products run in bf16; weights, gradients and optimizer state stay fp32. The API
// was renamed in LibTorch 2.4; CPU bf16 needs LibTorch 2.x (parse_dtype refuses it earlier).
class Autocast {
 public:
  Autocast(bool on, const torch::Device& device) : on_(on), type_(device.type()) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, true);
#else
    if (type_ == at::kCPU) {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    } else {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    }
#endif
  }
  ~Autocast() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, false);
#else
    if (type_ == at::kCPU) at::autocast::set_cpu_enabled(false);
    else at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool on_;
  at::DeviceType type_;
};

// Weights require gradients only while training, so the frozen-backbone paths (slot gradients) never build a
// graph through them.
class TrainingMode {
 public:
  explicit TrainingMode(P5Model& model) : model_(model) {
    model_.set_training(true);
    for (auto& p : model_.parameters()) p.requires_grad_(true);
  }
  ~TrainingMode() {
    for (auto& p : model_.parameters()) p.requires_grad_(false);
    model_.set_training(false);
  }

 private:
  P5Model& model_;
};

// One AdamW step of one fp32 CPU tensor in a single pass over memory. The tensor form below takes about seven
// passes, which made the update a fifth of a p5-tiny training step (the 32k x d_model embedding dominates).
void adamw_cpu(torch::Tensor& p, const torch::Tensor& g, AdamMoments& m, double keep, double beta1, double beta2,
               double step_size, double sqrt_bc2, double eps) {
  float* pp = p.data_ptr<float>();
  const float* pg = g.data_ptr<float>();
  float* pm = m.exp_avg.data_ptr<float>();
  float* pv = m.exp_avg_sq.data_ptr<float>();
  const float k = static_cast<float>(keep), b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float s = static_cast<float>(step_size), c = static_cast<float>(1.0 / sqrt_bc2), e = static_cast<float>(eps);
  at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    at::globalContext().setFlushDenormal(true);  // per thread: moments of rare rows decay towards denormals
    for (int64_t i = begin; i < end; ++i) {
      const float gi = pg[i];
      const float mi = pm[i] = b1 * pm[i] + (1.0f - b1) * gi;
      const float vi = pv[i] = b2 * pv[i] + (1.0f - b2) * gi * gi;
      pp[i] = pp[i] * k - s * mi / (std::sqrt(vi) * c + e);
    }
  });
}

// Sums `grads` (in place) and `scalars` (the loss, the stop votes) over the group's ranks: the gradients flattened
// into buckets of about 25 MB (DDP's default), all in flight at once, the scalars (fp64) beside them.
void all_reduce_gradients(DistGroup& group, std::vector<torch::Tensor>& grads, std::vector<double>& scalars) {
  constexpr int64_t kBucketBytes = 25 << 20;
  std::vector<torch::Tensor> buckets;
  std::vector<std::pair<size_t, size_t>> spans;  // [first, last) gradient of each bucket
  for (size_t i = 0; i < grads.size();) {
    size_t j = i;
    int64_t bytes = 0;
    std::vector<torch::Tensor> flat;
    while (j < grads.size() && (j == i || bytes + grads[j].nbytes() <= static_cast<size_t>(kBucketBytes))) {
      bytes += grads[j].nbytes();
      flat.push_back(grads[j].reshape({-1}));
      ++j;
    }
    buckets.push_back(torch::cat(flat));
    spans.emplace_back(i, j);
    i = j;
  }
  buckets.push_back(torch::tensor(scalars, torch::kDouble));
  group.all_reduce_sum(buckets);
  auto reduced = buckets.back();
  for (size_t i = 0; i < scalars.size(); ++i) scalars[i] = reduced[static_cast<int64_t>(i)].item<double>();
  for (size_t b = 0; b < spans.size(); ++b) {
    int64_t at = 0;
    for (size_t i = spans[b].first; i < spans[b].second; ++i) {
      const int64_t n = grads[i].numel();
      grads[i].copy_(buckets[b].narrow(0, at, n).view_as(grads[i]));
      at += n;
    }
  }
}

}  // namespace

Trainer::Trainer(P5Model& model, const TrainOptions& options) : model_(model), options_(options) {
  if (!(options.lr > 0) || !std::isfinite(options.lr)) throw std::invalid_argument("lr must be a positive number");
  if (options.weight_decay < 0) throw std::invalid_argument("weight decay must be >= 0");
  if (options.warmup_steps < 0 || options.total_steps < 0) throw std::invalid_argument("step counts must be >= 0");
  if (options.shards < 0) throw std::invalid_argument("shards must be >= 0");
  if (options.bf16_autocast) parse_dtype("bf16", model.device());  // refuses, with the reason, where bf16 cannot run
  if (model.dtype() != torch::kFloat32)
    throw std::invalid_argument("training needs fp32 weights (bf16 training runs as bf16 autocast over fp32 weights)");
  for (const auto& name : model_.names()) {
    const auto& p = model_.param(name);
    moments_.push_back({torch::zeros_like(p), torch::zeros_like(p)});
    decay_.push_back(!is_layer_norm(name));
  }
}

double Trainer::lr_at(int64_t step) const {
  const auto& o = options_;
  if (o.warmup_steps > 0 && step < o.warmup_steps) return o.lr * static_cast<double>(step + 1) / o.warmup_steps;
  if (o.total_steps <= 0 || o.total_steps <= o.warmup_steps) return o.lr;
  const double left = static_cast<double>(o.total_steps - step) / static_cast<double>(o.total_steps - o.warmup_steps);
  return o.lr * std::max(0.0, left);
}

void Trainer::apply_update(const std::vector<torch::Tensor>& grads, double lr) {
  torch::NoGradGuard no_grad;
  const double t = static_cast<double>(step_ + 1);
  const double bc1 = 1.0 - std::pow(options_.beta1, t), bc2 = 1.0 - std::pow(options_.beta2, t);
  auto params = model_.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    auto& p = params[i];
    const auto g = grads[i].contiguous();
    auto& m = moments_[i];
    const double keep = decay_[i] && options_.weight_decay > 0 ? 1.0 - lr * options_.weight_decay : 1.0;  // decoupled
    // AdamW-scale (nanoT5): each tensor's step is relative to its root mean square, as in Adafactor.
    const double scale =
        options_.rms_scaled ? std::max(1e-3, p.norm().item<double>() / std::sqrt(static_cast<double>(p.numel()))) : 1.0;
    const double step_size = lr * scale / bc1;
    if (p.is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous()) {
      adamw_cpu(p, g, m, keep, options_.beta1, options_.beta2, step_size, std::sqrt(bc2), options_.eps);
      continue;
    }
    if (keep != 1.0) p.mul_(keep);
    m.exp_avg.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    m.exp_avg_sq.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    auto denom = (m.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(options_.eps);
    p.addcdiv_(m.exp_avg, denom, -step_size);
  }
  ++step_;
}

std::pair<double, std::vector<torch::Tensor>> Trainer::loss_and_gradients(const Rows& data,
                                                                        const std::vector<int64_t>& rows,
                                                                        uint64_t step_seed, bool make_nan,
                                                                        bool& stop_vote) const {
  const bool cpu = model_.device().is_cpu();
  const bool whole_words = model_.config().whole_word_embeddings;
  const auto params = model_.parameters();
  const int64_t B = static_cast<int64_t>(rows.size());
  const auto& dist = options_.dist;
  const int64_t world = dist ? dist->world() : 1, rank = dist ? dist->rank() : 0;
  // The step's shard count over all ranks (this rank runs shards rank, rank + world, ...): on CPU the count one
  // process with all the ranks' threads would use, so the shards' rows and dropout masks are that run's; on CUDA one
  // per rank. A rank left without a shard adds zeros.
  int64_t shards = training_shards(model_.device(), B, options_.shards);
  if (dist && !cpu) shards = std::min(B, world);
  if (dist && cpu && options_.shards == 0)
    shards = std::max<int64_t>(1, std::min<int64_t>(world * at::get_num_threads(), B / 8));
  const auto mine_of = shard_items(shards, world, rank);
  const int64_t local = static_cast<int64_t>(mine_of.size());
  std::vector<double> losses(local, 0.0);
  std::vector<std::vector<torch::Tensor>> grads(local);
  auto run_shard = [&](int64_t j) {
    const int64_t s = mine_of[j];
    at::globalContext().setFlushDenormal(true);
    std::vector<int64_t> mine;
    for (auto i : shard_items(B, shards, s)) mine.push_back(rows[i]);
    std::optional<DropoutStream> masks;  // CPU: each shard its own masks, from (seed, step, shard)
    if (cpu) masks.emplace(mix_seed(step_seed, static_cast<uint64_t>(s)));
    auto batch = pad_rows(data, mine, model_.device(), whole_words, kPadMultiple);
    torch::Tensor loss;
    {
      Autocast autocast(options_.bf16_autocast, model_.device());
      loss = forward(model_, batch).loss_per_example.sum() / static_cast<double>(B);  // this shard's share of the mean
    }
    if (make_nan && s == 0) loss = loss * std::numeric_limits<double>::quiet_NaN();
    losses[j] = loss.item<double>();
    grads[j] = torch::autograd::grad({loss}, params);
  };
  if (!cpu) torch::manual_seed(dist ? mix_seed(step_seed, static_cast<uint64_t>(rank)) : step_seed);  // CUDA: LibTorch's generator
  if (local > 0) run_shards(model_.device(), local, run_shard);
  double loss = 0;
  std::vector<torch::Tensor> sum;
  if (local == 0) {
    for (const auto& p : params) sum.push_back(torch::zeros_like(p));
  } else {
    sum = std::move(grads[0]);
  }
  for (int64_t j = 0; j < local; ++j) {
    loss += losses[j];
    if (j > 0)
      for (size_t i = 0; i < params.size(); ++i) sum[i].add_(grads[j][i]);
  }
  if (dist) {
    torch::NoGradGuard no_grad;
    std::vector<double> scalars{loss, stop_vote ? 1.0 : 0.0};
    all_reduce_gradients(*dist, sum, scalars);
    loss = scalars[0];
    stop_vote = scalars[1] > 0;
  }
  return {loss, std::move(sum)};
}

EpochResult Trainer::run_epoch(const Rows& data, const EpochOptions& eo, const std::atomic<bool>& stop,
                               const std::function<void(const StepProgress&)>& progress) {
  const auto plan = plan_batches(data, eo.batch_size, mix_seed(options_.seed, static_cast<uint64_t>(eo.epoch)), true);
  EpochResult result;
  auto& pr = result.last;
  pr.batches = static_cast<int64_t>(plan.size());
  pr.batch = std::min<int64_t>(std::max<int64_t>(eo.start_batch, 0), pr.batches);
  pr.step = step_;
  TrainingMode mode(model_);
  // Adam moments of rarely used embedding rows decay towards denormals, which are ~100x slower on x86 CPUs.
  at::globalContext().setFlushDenormal(true);
  const auto started = std::chrono::steady_clock::now();
  double loss_sum = 0;
  int64_t steps = 0;
  const bool dist = options_.dist != nullptr;
  for (; pr.batch < pr.batches; ++pr.batch) {
    // Distributed: a stop asked on any rank travels with this step's gradients, so all ranks stop after it.
    if (!dist && stop.load()) {
      result.stopped = true;
      break;
    }
    const auto& rows = plan[pr.batch];
    static const bool profile = std::getenv("PAPREC_TRAIN_PROFILE") != nullptr;
    auto tick = std::chrono::steady_clock::now();
    auto lap = [&](const char* what) {
      if (!profile) return;
      auto now = std::chrono::steady_clock::now();
      std::fprintf(stderr, "%s %.1f ms  ", what, std::chrono::duration<double, std::milli>(now - tick).count());
      tick = now;
    };
    // Dropout masks depend only on (seed, step, shard): the same step draws the same masks after a resume.
    const uint64_t step_seed = mix_seed(options_.seed ^ 0xd1e5u, static_cast<uint64_t>(step_));
    bool stop_vote = stop.load();
    auto [loss_value, grads] = loss_and_gradients(data, rows, step_seed, eo.nan_at_step == step_, stop_vote);
    lap("forward + backward");
    if (!std::isfinite(loss_value)) {
      result.non_finite = true;
      result.non_finite_step = step_;
      break;
    }
    torch::Tensor norm;
    {
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> norms;
      for (auto& g : grads) norms.push_back(g.norm(2).to(torch::kFloat32));
      norm = torch::stack(norms).norm(2);
    }
    const double grad_norm = norm.item<double>();
    if (!std::isfinite(grad_norm)) {
      result.non_finite = true;
      result.non_finite_step = step_;
      break;
    }
    if (options_.clip_norm > 0 && grad_norm > options_.clip_norm) {
      torch::NoGradGuard no_grad;
      const double scale = options_.clip_norm / (grad_norm + 1e-6);
      for (auto& g : grads) g.mul_(scale);
    }
    const double lr = lr_at(step_);
    apply_update(grads, lr);
    lap("update");
    if (profile) std::fprintf(stderr, "\n");
    ++steps;
    loss_sum += loss_value;
    pr.step = step_;
    pr.examples += static_cast<int64_t>(rows.size());
    pr.loss = loss_value;
    pr.mean_loss = loss_sum / steps;
    pr.lr = lr;
    pr.grad_norm = grad_norm;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    pr.examples_per_second = seconds > 0 ? pr.examples / seconds : 0;
    if (progress) progress(pr);
    lap("report");
    if (dist && stop_vote) {
      ++pr.batch;
      result.stopped = true;
      break;
    }
  }
  return result;
}

torch::Tensor Trainer::evaluate_loss(const Rows& data, int64_t batch_size) const {
  torch::NoGradGuard no_grad;
  const bool was_training = model_.training();
  if (was_training) throw std::logic_error("evaluate_loss during training");
  const auto plan = plan_batches(data, batch_size, 0, false);
  auto out = torch::zeros({data.size()}, torch::kFloat32);
  for (const auto& rows : plan) {
    auto batch = pad_rows(data, rows, model_.device(), model_.config().whole_word_embeddings, kPadMultiple);
    torch::Tensor losses;
    {
      Autocast autocast(options_.bf16_autocast, model_.device());
      losses = forward(model_, batch).loss_per_example.to(torch::kCPU, torch::kFloat32);
    }
    out.index_put_({torch::tensor(rows, torch::kLong)}, losses);
  }
  return out;
}

void Trainer::set_state(int64_t step, std::vector<AdamMoments> moments) {
  if (step < 0) throw std::invalid_argument("optimizer state: step must be >= 0");
  const auto names = model_.names();
  if (moments.size() != names.size())
    throw std::invalid_argument("optimizer state: " + std::to_string(moments.size()) + " tensors, the model has " +
                                std::to_string(names.size()));
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& p = model_.param(names[i]);
    for (auto* t : {&moments[i].exp_avg, &moments[i].exp_avg_sq}) {
      if (t->sizes() != p.sizes())
        throw std::invalid_argument("optimizer state for " + names[i] + ": shape " + c10::str(t->sizes()) +
                                    ", the model's is " + c10::str(p.sizes()));
      *t = t->to(p.device(), p.scalar_type()).contiguous();
    }
  }
  moments_ = std::move(moments);
  step_ = step;
}

}  // namespace paprec
