#include "engine/slots.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "engine/shards.h"

namespace paprec {

SlotGradients slot_gradients(const P5Model& model, const ResidentSet& set, const Assignment& a,
                             const SlotGradientOptions& o) {
  const auto& d = set.data();
  if (o.per_user && !d.has_user_slot) throw std::invalid_argument("slotGradients: perUser needs a user slot in the set");
  std::vector<SetBatch> sampled;
  const std::vector<SetBatch>* batches = &set.batches();
  if (o.sample > 0 && o.sample < set.size()) {
    std::vector<int64_t> all(set.size());
    std::iota(all.begin(), all.end(), 0);
    std::mt19937_64 rng(o.seed);
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(o.sample);
    sampled = set.make_batches(all);
    batches = &sampled;
  }
  const int64_t nb = static_cast<int64_t>(batches->size());
  // Per batch: the gradient rows at its slot positions (small), reduced below in batch order so that the result
  // does not depend on which shard computed which batch.
  std::vector<torch::Tensor> task_rows(nb), user_rows(nb), losses(nb);
  run_sharded(model.device(), nb, o.shards, [&](int64_t bi) {
    torch::AutoGradMode grad_on(true);
    const auto& b = (*batches)[bi];
    Batch spliced = b.batch;
    spliced.input_ids = ResidentSet::splice(b, a);
    auto embeds = model.embed(spliced.input_ids).detach().requires_grad_(true);
    auto r = forward(model, spliced, embeds);
    // Sum of per-example losses: each row's gradient is that example's own loss gradient (rows never interact).
    auto grads = torch::autograd::grad({r.loss_per_example.sum()}, {embeds})[0].detach();
    auto flat = grads.reshape({-1, grads.size(-1)}).to(torch::kFloat32);
    task_rows[bi] = flat.index_select(0, b.task_flat).to(torch::kCPU);
    if (o.per_user) user_rows[bi] = flat.index_select(0, b.user_flat).to(torch::kCPU);
    losses[bi] = r.loss_per_example.detach().to(torch::kCPU, torch::kDouble);
  });
  const int64_t D = model.config().d_model;
  SlotGradients out;
  auto task_sum = torch::zeros({d.num_task_slots, D}, torch::kFloat32);
  auto task_count = torch::zeros({d.num_task_slots}, torch::kFloat32);
  torch::Tensor user_sum, user_count;
  if (o.per_user) {
    user_sum = torch::zeros({d.num_users, D}, torch::kFloat32);
    user_count = torch::zeros({d.num_users}, torch::kFloat32);
  }
  double loss_sum = 0;
  int64_t n = 0;
  for (int64_t bi = 0; bi < nb; ++bi) {
    const auto& b = (*batches)[bi];
    auto slot = b.task_slot.to(torch::kCPU);
    task_sum.index_add_(0, slot, task_rows[bi]);
    task_count.index_add_(0, slot, torch::ones({slot.numel()}, torch::kFloat32));
    if (o.per_user) {
      auto users = b.user_row.to(torch::kCPU);
      user_sum.index_add_(0, users, user_rows[bi]);
      user_count.index_add_(0, users, torch::ones({users.numel()}, torch::kFloat32));
    }
    loss_sum += losses[bi].sum().item<double>();
    n += losses[bi].numel();
  }
  out.task = task_sum / task_count.clamp_min(1).unsqueeze(1);
  out.task_counts = task_count.to(torch::kInt32);
  if (o.per_user) {
    out.user = user_sum / user_count.clamp_min(1).unsqueeze(1);
    out.user_counts = user_count.to(torch::kInt32);
  }
  out.loss = n ? loss_sum / static_cast<double>(n) : 0.0;
  out.examples = n;
  return out;
}

Candidates top_candidates(const P5Model& model, const torch::Tensor& gradients, int64_t k, const torch::Tensor& mask,
                          int64_t chunk_elements) {
  const int64_t V = model.config().vocab_size, D = model.config().d_model;
  if (gradients.dim() != 2 || gradients.size(1) != D)
    throw std::invalid_argument("topCandidates: gradients must be [rows, " + std::to_string(D) + "]");
  if (mask.numel() != V)
    throw std::invalid_argument("topCandidates: the mask has " + std::to_string(mask.numel()) +
                                " entries, the vocabulary " + std::to_string(V) + " (another tokenizer?)");
  const int64_t allowed = mask.to(torch::kLong).sum().item<int64_t>();
  if (k < 1 || k > allowed)
    throw std::invalid_argument("topCandidates: k = " + std::to_string(k) + " must be in [1, " +
                                std::to_string(allowed) + "] (tokens allowed by the mask)");
  torch::NoGradGuard no_grad;
  const auto& E = model.param("shared.weight");
  auto banned = (mask.to(E.device()) == 0).view({1, V});
  const auto Ef = E.to(torch::kFloat32).t();
  const int64_t rows = gradients.size(0), chunk = std::max<int64_t>(1, chunk_elements / V);
  std::vector<torch::Tensor> ids, scores;
  for (int64_t start = 0; start < rows; start += chunk) {
    const int64_t n = std::min(chunk, rows - start);
    auto g = gradients.narrow(0, start, n).to(E.device(), torch::kFloat32);
    auto s = -torch::matmul(g, Ef);  // [n, V]: first-order loss change of swapping in t
    s.masked_fill_(banned, -std::numeric_limits<float>::infinity());
    auto top = s.topk(k, 1, true, true);
    scores.push_back(std::get<0>(top).to(torch::kCPU));
    ids.push_back(std::get<1>(top).to(torch::kCPU, torch::kInt32));
  }
  if (rows == 0) return {torch::zeros({0, k}, torch::kInt32), torch::zeros({0, k}, torch::kFloat32)};
  return {torch::cat(ids, 0), torch::cat(scores, 0)};
}

}  // namespace paprec
