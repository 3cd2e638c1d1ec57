// The trainer's batch plan over resident rows.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/rng.h"
#include "engine/rows.h"

namespace paprec {

// Batches of example indices. Shuffled from `seed`, then sorted by length inside windows of `window_batches`
// batches, so each batch holds rows of similar length (little padding), and the batch order is shuffled again.
// shuffle = false keeps the data order (evaluation).
std::vector<std::vector<int64_t>> plan_batches(const Rows& data, int64_t batch_size, uint64_t seed,
                                               bool shuffle, int64_t window_batches = 50);

}  // namespace paprec
