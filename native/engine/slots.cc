#include "engine/slots.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/rng.h"
#include "engine/shards.h"

namespace paprec {
namespace {

// A number as JS prints it (shortest round trip), for error messages.
std::string js_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// A NaN / Inf averaged gradient would rank candidates arbitrarily: refuse it, naming the row and dimension.
void check_finite(const torch::Tensor& g, const char* what, double loss) {
  auto bad = torch::isfinite(g).logical_not_();
  if (g.numel() == 0 || !bad.any().item<bool>()) return;
  const int64_t flat = bad.reshape({-1}).to(torch::kUInt8).argmax().item<int64_t>(), D = g.size(1);
  const double v = g.reshape({-1})[flat].item<double>();
  throw std::runtime_error(std::string("slot gradients: the gradient of ") + what + " " + std::to_string(flat / D) +
                           " is " + (std::isnan(v) ? "NaN" : "infinite") + " at dimension " + std::to_string(flat % D) +
                           " (training loss " + js_number(loss) + "): the model produces non-finite values on this " +
                           "data, so the round stops");
}

// Top-k of each row of s [n, V], best first, equal scores by lower id: topk, then a tie at the k-th score is
// resolved by id (topk's own choice among equal scores is unspecified).
std::pair<torch::Tensor, torch::Tensor> topk_by_id(const torch::Tensor& s, int64_t k) {
  auto [vals, idx] = s.topk(k, 1, true, true);
  const auto kth = vals.narrow(1, k - 1, 1);
  const auto above = s > kth, tied = s == kth;
  if ((above.sum(1) + tied.sum(1) > k).any().item<bool>()) {
    const auto keep = above.logical_or(tied.logical_and(tied.cumsum(1) <= k - above.sum(1, true)));
    idx = keep.nonzero().select(1, 1).view({s.size(0), k});  // ascending ids per row
    vals = s.gather(1, idx);
  }
  auto by_id = idx.sort(1);
  idx = std::get<0>(by_id);
  vals = vals.gather(1, std::get<1>(by_id));
  const auto order = std::get<1>(vals.sort(/*stable=*/true, 1, /*descending=*/true));
  return {vals.gather(1, order), idx.gather(1, order)};
}

}  // namespace

std::vector<int64_t> sample_rows(int64_t n, int64_t sample, uint64_t seed) {
  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  if (sample <= 0 || sample >= n) return all;
  Rng{seed}.shuffle(all);
  all.resize(sample);
  return all;
}

SlotGradients slot_gradients(const P5Model& model, const ResidentSet& set, const Assignment& a,
                             const SlotGradientOptions& o) {
  const auto& d = set.data();
  if (o.per_user && !d.has_user_slot) throw std::invalid_argument("slotGradients: perUser needs a user slot in the set");
  std::vector<SetBatch> sampled;
  const std::vector<SetBatch>* batches = &set.batches();
  if (o.use_rows) {
    for (auto r : o.rows)
      if (r < 0 || r >= set.size())
        throw std::invalid_argument("slotGradients: row " + std::to_string(r) + " is outside the set's " +
                                    std::to_string(set.size()) + " examples");
    sampled = set.make_batches(o.rows);
    batches = &sampled;
  } else if (o.sample > 0 && o.sample < set.size()) {
    sampled = set.make_batches(sample_rows(set.size(), o.sample, o.seed));
    batches = &sampled;
  }
  const int64_t nb = static_cast<int64_t>(batches->size());
  // Per batch: the gradient rows at its slot positions (small), reduced below in batch order.
  std::vector<torch::Tensor> task_rows(nb), user_rows(nb), losses(nb);
  if (nb > 0)
    run_sharded(model.device(), nb, batches == &sampled ? std::min(o.shards, nb) : o.shards, [&](int64_t bi) {
      torch::AutoGradMode grad_on(true);
      const auto& b = (*batches)[bi];
      Batch spliced = b.batch;
      spliced.input_ids = ResidentSet::splice(b, a);
      auto embeds = model.embed(spliced.input_ids).detach().requires_grad_(true);
      auto r = forward(model, spliced, embeds);
      // Sum of per-example losses: each row's gradient is that example's own loss gradient (rows never interact).
      auto grads = torch::autograd::grad({r.loss_per_example.sum()}, {embeds})[0].detach();
      auto flat = grads.reshape({-1, grads.size(-1)}).to(torch::kFloat32);
      task_rows[bi] = flat.index_select(0, b.task_flat);
      if (o.per_user) user_rows[bi] = flat.index_select(0, b.user_flat);
      losses[bi] = r.loss_per_example.detach().to(torch::kCPU, torch::kDouble);
    });
  torch::NoGradGuard no_grad;
  const int64_t D = model.config().d_model;
  const auto f = torch::TensorOptions().dtype(torch::kFloat32).device(model.device());
  // index_put_ with accumulate is deterministic on CUDA too (index_add_ is not).
  auto sum_rows = [&](int64_t rows, auto&& index_of, const std::vector<torch::Tensor>& parts) {
    auto sum = torch::zeros({rows, D}, f), count = torch::zeros({rows}, f);
    for (int64_t bi = 0; bi < nb; ++bi) {
      const auto idx = index_of((*batches)[bi]);
      sum.index_put_({idx}, parts[bi], true);
      count.index_put_({idx}, torch::ones({idx.numel()}, f), true);
    }
    return std::make_pair(sum, count);
  };
  auto mean = [](const torch::Tensor& sum, const torch::Tensor& count) {
    return std::make_pair(sum / count.clamp_min(1).unsqueeze(1), count.to(torch::kCPU, torch::kInt32));
  };
  SlotGradients out;
  double loss_sum = 0;
  for (const auto& l : losses) loss_sum += l.sum().item<double>(), out.examples += l.numel();
  auto [task_sum, task_count] = sum_rows(d.num_task_slots, [](const SetBatch& b) { return b.task_slot; }, task_rows);
  if (o.reduce) {
    // One collective: [sums (S x D), counts (S), loss sum, examples], in fp64 so the sum of the ranks' parts
    // rounds once, to the fp32 mean.
    const int64_t S = d.num_task_slots;
    auto packed = torch::cat({task_sum.reshape({-1}).to(torch::kCPU, torch::kDouble), task_count.to(torch::kCPU, torch::kDouble),
                              torch::tensor({loss_sum, static_cast<double>(out.examples)}, torch::kDouble)});
    std::vector<torch::Tensor> one{packed};
    o.reduce->all_reduce_sum(one);
    packed = one[0];
    task_sum = packed.narrow(0, 0, S * D).view({S, D}).to(f);
    task_count = packed.narrow(0, S * D, S).to(f);
    loss_sum = packed[S * D + S].item<double>();
    out.examples = static_cast<int64_t>(packed[S * D + S + 1].item<double>());
  }
  out.loss = out.examples ? loss_sum / static_cast<double>(out.examples) : 0.0;
  std::tie(out.task, out.task_counts) = mean(task_sum, task_count);
  check_finite(out.task, "task slot", out.loss);
  if (o.per_user) {
    auto [user_sum, user_count] = sum_rows(d.num_users, [](const SetBatch& b) { return b.user_row; }, user_rows);
    std::tie(out.user, out.user_counts) = mean(user_sum, user_count);
    check_finite(out.user, "user slot of user index", out.loss);
  }
  return out;
}

Candidates top_candidates(const P5Model& model, const torch::Tensor& gradients, int64_t k, const torch::Tensor& mask,
                          const torch::Tensor& exclude, int64_t chunk_elements) {
  const int64_t V = model.config().vocab_size, D = model.config().d_model;
  if (gradients.dim() != 2 || gradients.size(1) != D)
    throw std::invalid_argument("topCandidates: gradients must be [rows, " + std::to_string(D) + "]");
  if (mask.numel() != V)
    throw std::invalid_argument("topCandidates: the mask has " + std::to_string(mask.numel()) +
                                " entries, the vocabulary " + std::to_string(V) + " (another tokenizer?)");
  const int64_t rows = gradients.size(0);
  if (exclude.defined() && exclude.numel() != rows)
    throw std::invalid_argument("topCandidates: " + std::to_string(exclude.numel()) + " current tokens for " +
                                std::to_string(rows) + " rows");
  const int64_t allowed = mask.to(torch::kLong).sum().item<int64_t>() - (exclude.defined() ? 1 : 0);
  if (k < 1 || k > allowed)
    throw std::invalid_argument("topCandidates: k = " + std::to_string(k) + " must be in [1, " +
                                std::to_string(allowed) + "] (tokens allowed by the mask" +
                                (exclude.defined() ? ", less the current one)" : ")"));
  torch::NoGradGuard no_grad;
  const auto& E = model.param("shared.weight");
  const auto banned = (mask.to(E.device()) == 0).view({1, V});
  const auto Ef = E.to(torch::kFloat32).t();
  const auto ex = exclude.defined() ? exclude.to(E.device(), torch::kLong).view({-1, 1}) : torch::Tensor();
  const int64_t chunk = std::max<int64_t>(1, chunk_elements / V);
  const float ninf = -std::numeric_limits<float>::infinity();
  std::vector<torch::Tensor> ids, scores;
  for (int64_t start = 0; start < rows; start += chunk) {
    const int64_t n = std::min(chunk, rows - start);
    auto g = gradients.narrow(0, start, n).to(E.device(), torch::kFloat32);
    auto s = -torch::matmul(g, Ef);  // [n, V]: first-order loss change of swapping in t
    s.masked_fill_(banned, ninf);
    if (ex.defined()) s.scatter_(1, ex.narrow(0, start, n), ninf);
    auto [v, i] = topk_by_id(s, k);
    scores.push_back(v.to(torch::kCPU));
    ids.push_back(i.to(torch::kCPU, torch::kInt32));
  }
  if (rows == 0) return {torch::zeros({0, k}, torch::kInt32), torch::zeros({0, k}, torch::kFloat32)};
  return {torch::cat(ids, 0), torch::cat(scores, 0)};
}

SlotCandidates slot_candidates(const P5Model& model, const ResidentSet& set, const Assignment& a,
                               const torch::Tensor& mask, int64_t k, const SlotGradientOptions& o) {
  if (o.per_user && !a.user.defined())
    throw std::invalid_argument("candidates: perUser needs the assignment's userTokens (each user's current token is excluded)");
  auto g = slot_gradients(model, set, a, o);
  SlotCandidates out;
  out.task = top_candidates(model, g.task, k, mask, a.task).ids;
  if (o.per_user) {
    out.user = top_candidates(model, g.user, k, mask, a.user).ids;
    out.user_counts = g.user_counts;
  }
  out.loss = g.loss;
  out.examples = g.examples;
  return out;
}

}  // namespace paprec
