#include "engine/train_data.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace paprec {

std::vector<std::vector<int64_t>> plan_batches(const Rows& data, int64_t batch_size, uint64_t seed,
                                               bool shuffle, int64_t window_batches) {
  if (batch_size <= 0) throw std::invalid_argument("batch size must be positive");
  const int64_t n = data.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Rng rng{seed};
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
