// A resident training set: every example of an epoch as flat token rows (the ExampleSet layout of src/types.ts),
// and the length-bucketed batch plan the trainer walks through.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "engine/loss.h"
#include "model/config.h"

namespace paprec {

struct TrainingData {
  // Rows concatenated without padding: row i spans [input_offsets[i], input_offsets[i + 1]).
  std::vector<int32_t> input_ids, input_offsets, whole_word_ids, target_ids, target_offsets;
  int64_t size() const { return static_cast<int64_t>(input_offsets.size()) - 1; }
  int64_t input_length(int64_t i) const { return input_offsets[i + 1] - input_offsets[i]; }
  int64_t target_length(int64_t i) const { return target_offsets[i + 1] - target_offsets[i]; }
  // Offsets monotone, ids inside the vocabulary, whole-word ids inside the table, no empty row; throws otherwise.
  void validate(const P5Config& config) const;
};

// splitmix64: turns (seed, counter) pairs into well-spread 64-bit seeds.
uint64_t mix_seed(uint64_t seed, uint64_t key);

// Batches of example indices. Shuffled from `seed`, then sorted by length inside windows of `window_batches`
// batches, so each batch holds rows of similar length (little padding), and the batch order is shuffled again.
// shuffle = false keeps the data order (evaluation).
std::vector<std::vector<int64_t>> plan_batches(const TrainingData& data, int64_t batch_size, uint64_t seed,
                                               bool shuffle, int64_t window_batches = 50);

// The padded batch of `rows` (sources right-padded with 0, labels with -100) on `device`.
Batch gather_batch(const TrainingData& data, const std::vector<int64_t>& rows, const torch::Device& device,
                   bool whole_words);

}  // namespace paprec
