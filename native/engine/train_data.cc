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

}  // namespace

std::vector<std::vector<int64_t>> plan_batches(const Rows& data, int64_t batch_size, uint64_t seed,
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

}  // namespace paprec
