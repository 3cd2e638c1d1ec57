// Ragged token rows (src/types.ts RaggedRows), the one layout of examples in the engine: resident example sets and
// training sets hold them, one validation and one padding routine serve both.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/loss.h"
#include "model/config.h"

namespace paprec {

// Rows concatenated without padding: row i spans [input_offsets[i], input_offsets[i + 1]) of input_ids and
// whole_word_ids, [target_offsets[i], target_offsets[i + 1]) of target_ids (targets end with </s>).
struct Rows {
  std::vector<int32_t> input_ids, input_offsets, whole_word_ids, target_ids, target_offsets;
  int64_t size() const { return static_cast<int64_t>(input_offsets.size()) - 1; }
  int64_t input_length(int64_t i) const { return input_offsets[i + 1] - input_offsets[i]; }
  int64_t target_length(int64_t i) const { return target_offsets[i + 1] - target_offsets[i]; }
  // At least one row, offsets from 0 rising to the id count (no empty row), ids inside the vocabulary, whole-word
  // ids inside the table (when the model has one); throws std::invalid_argument("<what>: ...") otherwise.
  void validate(const P5Config& config, const std::string& what) const;
};

// The padded batch of `rows` on `device`: sources right-padded with 0 to a multiple of `multiple` positions (mask
// 0), labels with -100; whole_word_ids only when `whole_words`.
Batch pad_rows(const Rows& data, const std::vector<int64_t>& rows, const torch::Device& device, bool whole_words,
               int64_t multiple = 1);

}  // namespace paprec
