#include "engine/train_data.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace paprec {

uint64_t mix_seed(uint64_t seed, uint64_t key) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (key + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

// A tiny seeded generator with its own Fisher-Yates, so batch plans do not depend on the C++ library's shuffle.
struct SplitMix {
  uint64_t state;
  uint64_t next() { return state = mix_seed(state, 0); }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[below(i + 1)]);
  }
};

void check_offsets(const std::vector<int32_t>& offsets, size_t total, const char* what) {
  if (offsets.empty() || offsets.front() != 0 || static_cast<size_t>(offsets.back()) != total)
    throw std::invalid_argument(std::string(what) + ": offsets must start at 0 and end at the number of ids (" +
                                std::to_string(total) + ")");
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] <= offsets[i - 1])
      throw std::invalid_argument(std::string(what) + ": row " + std::to_string(i - 1) + " is empty");
}

void check_ids(const std::vector<int32_t>& ids, int64_t hi, const char* what) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= hi)
      throw std::invalid_argument(std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                                  " is outside [0, " + std::to_string(hi) + ")");
}

}  // namespace

void TrainingData::validate(const P5Config& config) const {
  if (input_offsets.size() < 2) throw std::invalid_argument("training data: no examples");
  if (target_offsets.size() != input_offsets.size())
    throw std::invalid_argument("training data: " + std::to_string(input_offsets.size() - 1) + " inputs but " +
                                std::to_string(static_cast<int64_t>(target_offsets.size()) - 1) + " targets");
  if (whole_word_ids.size() != input_ids.size())
    throw std::invalid_argument("training data: wholeWordIds has " + std::to_string(whole_word_ids.size()) +
                                " ids, inputIds " + std::to_string(input_ids.size()));
  check_offsets(input_offsets, input_ids.size(), "inputOffsets");
  check_offsets(target_offsets, target_ids.size(), "targetOffsets");
  check_ids(input_ids, config.vocab_size, "inputIds");
  check_ids(target_ids, config.vocab_size, "targetIds");
  check_ids(whole_word_ids, config.whole_word_size, "wholeWordIds");
}

std::vector<std::vector<int64_t>> plan_batches(const TrainingData& data, int64_t batch_size, uint64_t seed,
                                               bool shuffle, int64_t window_batches) {
  if (batch_size <= 0) throw std::invalid_argument("batch size must be positive");
  const int64_t n = data.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  SplitMix rng{seed};
  if (shuffle) rng.shuffle(order);
  const int64_t window = shuffle ? batch_size * window_batches : n;
  auto longer = [&](int64_t a, int64_t b) {
    const auto la = data.input_length(a), lb = data.input_length(b);
    return la != lb ? la < lb : a < b;  // ties by index: a total order, so the plan is deterministic
  };
  std::vector<std::vector<int64_t>> batches;
  for (int64_t start = 0; start < n; start += window) {
    const int64_t end = std::min(n, start + window);
    std::sort(order.begin() + start, order.begin() + end, longer);
    for (int64_t b = start; b < end; b += batch_size)
      batches.emplace_back(order.begin() + b, order.begin() + std::min(end, b + batch_size));
  }
  if (shuffle) rng.shuffle(batches);
  return batches;
}

Batch gather_batch(const TrainingData& data, const std::vector<int64_t>& rows, const torch::Device& device,
                   bool whole_words) {
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t L = 0, T = 0;
  for (auto r : rows) {
    L = std::max(L, data.input_length(r));
    T = std::max(T, data.target_length(r));
  }
  // Widths rounded up to a multiple of 8: a handful of distinct shapes per epoch lets the allocator reuse its
  // blocks (a never-seen shape costs several times a normal step on CPU), for at most 7 padding positions.
  L = (L + 7) / 8 * 8;
  auto ids = torch::zeros({B, L}, torch::kLong), mask = torch::zeros({B, L}, torch::kLong);
  auto words = torch::zeros({B, L}, torch::kLong), labels = torch::full({B, T}, -100, torch::kLong);
  auto pi = ids.accessor<int64_t, 2>(), pm = mask.accessor<int64_t, 2>(), pw = words.accessor<int64_t, 2>();
  auto pl = labels.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t r = rows[b];
    for (int64_t k = 0, o = data.input_offsets[r]; k < data.input_length(r); ++k, ++o) {
      pi[b][k] = data.input_ids[o];
      pw[b][k] = data.whole_word_ids[o];
      pm[b][k] = 1;
    }
    for (int64_t k = 0, o = data.target_offsets[r]; k < data.target_length(r); ++k, ++o) pl[b][k] = data.target_ids[o];
  }
  Batch batch;
  batch.input_ids = ids.to(device);
  batch.attention_mask = mask.to(device);
  if (whole_words) batch.whole_word_ids = words.to(device);
  batch.labels = labels.to(device);
  return batch;
}

}  // namespace paprec
