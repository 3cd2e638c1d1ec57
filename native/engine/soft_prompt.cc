#include "engine/soft_prompt.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/loss.h"
#include "engine/rng.h"
#include "engine/shards.h"

namespace paprec {

SoftPromptResult train_soft_prompt(const P5Model& model, const ResidentSet& set, const Assignment& a,
                                   const SoftPromptOptions& o) {
  if (o.steps < 1) throw std::invalid_argument("trainSoftPrompt: steps must be >= 1");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw std::invalid_argument("trainSoftPrompt: lr must be a positive number");
  if (o.batch_size < 1) throw std::invalid_argument("trainSoftPrompt: batchSize must be >= 1");
  if (set.data().num_task_slots < 1) throw std::invalid_argument("trainSoftPrompt: the example set has no task slots");
  const auto f = torch::TensorOptions().dtype(torch::kFloat32).device(model.device());
  torch::Tensor p;
  {
    torch::NoGradGuard no_grad;
    p = (a.slot_embeddings.defined() ? a.slot_embeddings : model.embed(a.task)).to(f).clone();
  }
  auto m = torch::zeros_like(p), v = torch::zeros_like(p);
  Rng rng{o.seed};
  std::vector<int64_t> order(set.size());
  size_t next = order.size();
  SoftPromptResult out;
  for (int64_t step = 0; step < o.steps; ++step) {
    std::vector<int64_t> rows;
    while (static_cast<int64_t>(rows.size()) < std::min(o.batch_size, set.size())) {
      if (next == order.size()) {  // a new pass: a fresh permutation from the one generator
        std::iota(order.begin(), order.end(), 0);
        rng.shuffle(order);
        next = 0;
      }
      rows.push_back(order[next++]);
    }
    const auto batches = set.make_batches(rows);
    const int64_t nb = static_cast<int64_t>(batches.size());
    std::vector<torch::Tensor> grads(nb), sums(nb);
    const auto leaf = p.detach().requires_grad_(true);
    run_sharded(model.device(), nb, std::min(o.shards, nb), [&](int64_t bi) {
      torch::AutoGradMode grad_on(true);
      const auto& b = batches[bi];
      Assignment soft{a.task, a.user, leaf};
      auto sum = forward(model, b.batch, ResidentSet::embed(model, b, soft)).loss_per_example.sum();
      grads[bi] = torch::autograd::grad({sum}, {leaf})[0].detach();
      sums[bi] = sum.detach();
    });
    torch::NoGradGuard no_grad;
    auto g = torch::zeros_like(p);
    double loss = 0;
    for (int64_t bi = 0; bi < nb; ++bi) {  // in batch order: the same sums for any shard count
      g.add_(grads[bi]);
      loss += sums[bi].item<double>();
    }
    const double n = static_cast<double>(rows.size());
    g.div_(n);
    const double l = loss / n;
    if (!std::isfinite(l) || !torch::isfinite(g).all().item<bool>())
      throw std::runtime_error("trainSoftPrompt: the loss or its gradient is not finite at step " + std::to_string(step) +
                               " (loss " + std::to_string(l) + "): lower lr");
    out.losses.push_back(l);
    const double t = static_cast<double>(step + 1);
    m.mul_(o.beta1).add_(g, 1.0 - o.beta1);
    v.mul_(o.beta2).addcmul_(g, g, 1.0 - o.beta2);
    const double bc1 = 1.0 - std::pow(o.beta1, t), bc2 = 1.0 - std::pow(o.beta2, t);
    p.addcdiv_(m, (v / bc2).sqrt_().add_(o.eps), -o.lr / bc1);
  }
  out.embeddings = p.to(torch::kCPU);
  return out;
}

torch::Tensor project_soft_prompt(const P5Model& model, const torch::Tensor& embeddings, const torch::Tensor& mask) {
  const int64_t V = model.config().vocab_size, D = model.config().d_model;
  if (embeddings.dim() != 2 || embeddings.size(1) != D)
    throw std::invalid_argument("projectSoftPrompt: embeddings must be [rows, " + std::to_string(D) + "]");
  if (mask.numel() != V)
    throw std::invalid_argument("projectSoftPrompt: the mask has " + std::to_string(mask.numel()) +
                                " entries, the vocabulary " + std::to_string(V));
  if (!torch::isfinite(embeddings).all().item<bool>())
    throw std::invalid_argument("projectSoftPrompt: the embeddings hold a NaN or infinite value");
  if (mask.to(torch::kLong).sum().item<int64_t>() == 0) throw std::invalid_argument("projectSoftPrompt: the mask allows no token");
  torch::NoGradGuard no_grad;
  const auto E = model.param("shared.weight").to(torch::kFloat32);
  const auto x = embeddings.to(E.device(), torch::kFloat32);
  // |e_t - x|^2 = |e_t|^2 - 2 e_t . x + |x|^2; the last term is the same for every t of a row.
  auto d = E.pow(2).sum(1).view({1, V}) - 2 * torch::matmul(x, E.t());
  d.masked_fill_((mask.to(E.device()) == 0).view({1, V}), std::numeric_limits<float>::infinity());
  const auto best = std::get<0>(d.min(1, true));
  const auto ids = torch::arange(V, torch::TensorOptions().dtype(torch::kLong).device(E.device())).view({1, V});
  return std::get<0>(ids.expand_as(d).masked_fill(d != best, V).min(1)).to(torch::kCPU, torch::kInt32);
}

}  // namespace paprec
