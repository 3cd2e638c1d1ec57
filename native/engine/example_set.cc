#include "engine/example_set.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/shards.h"

namespace paprec {
namespace {

[[noreturn]] void bad(const std::string& m) { throw std::invalid_argument("example set: " + m); }

}  // namespace

void validate_example_set(const ExampleSetData& d, const P5Config& config) {
  d.rows.validate(config, "example set");
  if (d.rows.size() != d.size)
    bad("size is " + std::to_string(d.size) + " but inputOffsets holds " + std::to_string(d.rows.size()) + " rows");
  if (d.num_task_slots < 0) bad("numTaskSlots must be >= 0");
  const int64_t spr = d.slots_per_row();
  if (static_cast<int64_t>(d.slot_positions.size()) != d.size * spr)
    bad("slotPositions has " + std::to_string(d.slot_positions.size()) + " entries, expected size x slots per row = " +
        std::to_string(d.size * spr));
  for (int64_t i = 0; i < d.size; ++i) {
    const int64_t len = d.rows.input_length(i);
    for (int64_t j = 0; j < spr; ++j) {
      const int64_t p = d.slot_positions[i * spr + j];
      if (p < -1 || p >= len)
        bad("slotPositions: row " + std::to_string(i) + " slot " + std::to_string(j) + " at position " +
            std::to_string(p) + " is outside the row (length " + std::to_string(len) + ")");
    }
  }
  if (static_cast<int64_t>(d.user_index.size()) != d.size)
    bad("userIndex has " + std::to_string(d.user_index.size()) + " entries, expected " + std::to_string(d.size));
  if (d.num_users < 0 || (d.has_user_slot && d.num_users == 0)) bad("numUsers must be positive with a user slot");
  for (int64_t i = 0; i < d.size && d.num_users > 0; ++i)
    if (d.user_index[i] < 0 || d.user_index[i] >= d.num_users)
      bad("userIndex[" + std::to_string(i) + "] = " + std::to_string(d.user_index[i]) + " is outside [0, " +
          std::to_string(d.num_users) + ") (numUsers)");
}

ResidentSet::ResidentSet(ExampleSetData data, const P5Config& config, const torch::Device& device, int64_t batch_size)
    : data_(std::move(data)), device_(device), batch_size_(batch_size) {
  if (batch_size_ < 1) throw std::invalid_argument("example set: batchSize must be >= 1");
  validate_example_set(data_, config);
  std::vector<int64_t> all(data_.size);
  std::iota(all.begin(), all.end(), 0);
  batches_ = make_batches(all);
}

std::vector<int64_t> ResidentSet::target(int64_t i) const {
  const auto& r = data_.rows;
  return {r.target_ids.begin() + r.target_offsets[i], r.target_ids.begin() + r.target_offsets[i + 1]};
}

std::vector<SetBatch> ResidentSet::make_batches(const std::vector<int64_t>& examples) const {
  const auto& d = data_;
  auto len = [&](int64_t i) { return d.rows.input_length(i); };
  auto order = examples;
  // Length-sorted buckets keep padding small; the order is a pure function of the set, never of the shard count.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return len(a) < len(b); });
  const int64_t spr = d.slots_per_row();
  std::vector<SetBatch> out;
  for (size_t start = 0; start < order.size(); start += batch_size_) {
    SetBatch sb;
    sb.examples.assign(order.begin() + start, order.begin() + std::min(order.size(), start + batch_size_));
    sb.batch = pad_rows(d.rows, sb.examples, device_, true);
    const int64_t B = static_cast<int64_t>(sb.examples.size()), L = sb.batch.input_ids.size(1);
    std::vector<int64_t> task_flat, task_slot, user_flat, user_row;
    for (int64_t r = 0; r < B; ++r) {
      const int64_t i = sb.examples[r];
      for (int64_t j = 0; j < spr; ++j) {
        const int64_t pos = d.slot_positions[i * spr + j];
        if (pos < 0) continue;
        if (j < d.num_task_slots) {
          task_flat.push_back(r * L + pos);
          task_slot.push_back(j);
        } else {
          user_flat.push_back(r * L + pos);
          user_row.push_back(d.user_index[i]);
        }
      }
    }
    auto dev = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong).to(device_); };
    sb.task_flat = dev(task_flat);
    sb.task_slot = dev(task_slot);
    sb.user_flat = dev(user_flat);
    sb.user_row = dev(user_row);
    out.push_back(std::move(sb));
  }
  return out;
}

torch::Tensor ResidentSet::splice(const SetBatch& b, const Assignment& a) {
  auto ids = b.batch.input_ids.clone();
  auto flat = ids.view({-1});
  if (a.task.defined() && b.task_flat.numel() > 0) flat.index_put_({b.task_flat}, a.task.index_select(0, b.task_slot));
  if (a.user.defined() && b.user_flat.numel() > 0) flat.index_put_({b.user_flat}, a.user.index_select(0, b.user_row));
  return ids;
}

torch::Tensor ResidentSet::embed(const P5Model& model, const SetBatch& b, const Assignment& a) {
  auto embeds = model.embed(splice(b, a));
  if (!a.slot_embeddings.defined() || b.task_flat.numel() == 0) return embeds;
  auto flat = embeds.reshape({-1, embeds.size(-1)}).clone();
  flat.index_put_({b.task_flat}, a.slot_embeddings.to(embeds.scalar_type()).index_select(0, b.task_slot));
  return flat.view(embeds.sizes());
}

void ResidentSet::check(const Assignment& a, const P5Config& config) const {
  const int64_t vocab_size = config.vocab_size;
  auto range = [&](const torch::Tensor& t, const std::string& what) {
    if (t.numel() == 0) return;
    const auto lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
    if (lo < 0 || hi >= vocab_size)
      throw std::invalid_argument(what + ": token id " + std::to_string(lo < 0 ? lo : hi) + " is outside [0, " +
                                  std::to_string(vocab_size) + ")");
  };
  if (!a.task.defined() || a.task.numel() != data_.num_task_slots)
    throw std::invalid_argument("assignment: taskTokens has " + std::to_string(a.task.defined() ? a.task.numel() : 0) +
                                " tokens, the example set has " + std::to_string(data_.num_task_slots) + " task slots");
  range(a.task, "assignment taskTokens");
  if (a.user.defined()) {
    if (!data_.has_user_slot) throw std::invalid_argument("assignment: userTokens given but the example set has no user slot");
    if (a.user.numel() != data_.num_users)
      throw std::invalid_argument("assignment: userTokens has " + std::to_string(a.user.numel()) +
                                  " entries, the example set has " + std::to_string(data_.num_users) + " users");
    range(a.user, "assignment userTokens");
  }
  if (a.slot_embeddings.defined()) {
    const auto& e = a.slot_embeddings;
    if (e.dim() != 2 || e.size(0) != data_.num_task_slots || e.size(1) != config.d_model)
      throw std::invalid_argument("assignment: slotEmbeddings has " + std::to_string(e.numel()) +
                                  " values, expected numTaskSlots x dModel = " + std::to_string(data_.num_task_slots) +
                                  " x " + std::to_string(config.d_model));
    auto bad = torch::isfinite(e).logical_not_().reshape({-1});
    if (bad.any().item<bool>()) {
      const int64_t at = bad.to(torch::kUInt8).argmax().item<int64_t>();
      throw std::invalid_argument("assignment: slotEmbeddings[" + std::to_string(at) + "] (slot " +
                                  std::to_string(at / config.d_model) + ") is " +
                                  (std::isnan(e.reshape({-1})[at].item<double>()) ? "NaN" : "infinite"));
    }
  }
}

namespace {

// Tokens of a returned sequence after the start token, up to its first eos (or its end).
bool matches(const torch::TensorAccessor<int64_t, 1>& seq, const std::vector<int64_t>& target, int64_t eos) {
  const int64_t n = seq.size(0);
  size_t t = 0;
  for (int64_t p = 1; p < n; ++p) {
    if (seq[p] == eos) break;
    if (t >= target.size() || target[t] == eos || target[t] != seq[p]) return false;
    ++t;
  }
  return t == target.size() || target[t] == eos;
}

}  // namespace

torch::Tensor evaluate(const P5Model& model, const ResidentSet& set, const Assignment& a, const EvaluateOptions& o) {
  check_generate_options(o.gen);
  const auto& batches = set.batches();
  std::vector<torch::Tensor> per_batch(batches.size());
  const int64_t nrs = o.gen.num_return_sequences, width = o.gen.max_length - 1;
  run_sharded(model.device(), static_cast<int64_t>(batches.size()), o.shards, [&](int64_t bi) {
    torch::NoGradGuard no_grad;
    const auto& b = batches[bi];
    auto ww = o.whole_words ? b.batch.whole_words() : std::nullopt;
    auto hidden = model.encode(ResidentSet::embed(model, b, a), b.batch.attention_mask, ww);
    auto r = generate_encoded(model, hidden, b.batch.attention_mask, o.gen);
    auto seqs = r.sequences.accessor<int64_t, 2>();
    const int64_t B = static_cast<int64_t>(b.examples.size());
    if (o.ranking) {
      auto ranks = torch::zeros({B}, torch::kInt32);
      for (int64_t row = 0; row < B; ++row) {
        const auto target = set.target(b.examples[row]);
        for (int64_t j = 0; j < nrs; ++j)
          if (matches(seqs[row * nrs + j], target, o.gen.eos)) {
            ranks[row] = static_cast<int32_t>(j + 1);
            break;
          }
      }
      per_batch[bi] = ranks;
    } else {
      auto out = torch::zeros({B, width}, torch::kInt32);
      const int64_t n = std::min(width, r.sequences.size(1) - 1);
      for (int64_t row = 0; row < B; ++row)
        out[row].narrow(0, 0, n).copy_(r.sequences[row * nrs].narrow(0, 1, n));
      per_batch[bi] = out;
    }
  });
  auto result = o.ranking ? torch::zeros({set.size()}, torch::kInt32) : torch::zeros({set.size(), width}, torch::kInt32);
  for (size_t bi = 0; bi < batches.size(); ++bi) {
    auto index = torch::tensor(batches[bi].examples, torch::kLong);
    result.index_copy_(0, index, per_batch[bi]);
  }
  return result;
}

torch::Tensor example_losses(const P5Model& model, const ResidentSet& set, const Assignment& a, int64_t shards) {
  const auto& batches = set.batches();
  std::vector<torch::Tensor> per_batch(batches.size());
  run_sharded(model.device(), static_cast<int64_t>(batches.size()), shards, [&](int64_t bi) {
    torch::NoGradGuard no_grad;
    const auto& b = batches[bi];
    per_batch[bi] = forward(model, b.batch, ResidentSet::embed(model, b, a)).loss_per_example.to(torch::kCPU, torch::kFloat32);
  });
  auto result = torch::zeros({set.size()}, torch::kFloat32);
  for (size_t bi = 0; bi < batches.size(); ++bi)
    result.index_copy_(0, torch::tensor(batches[bi].examples, torch::kLong), per_batch[bi]);
  return result;
}

}  // namespace paprec
