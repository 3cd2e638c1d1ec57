#include "engine/rows.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace paprec {
namespace {

void check_offsets(const std::vector<int32_t>& offsets, size_t total, const std::string& what, const char* name) {
  if (offsets.front() != 0 || static_cast<size_t>(offsets.back()) != total)
    throw std::invalid_argument(what + ": " + name + " must start at 0 and end at the number of ids (" +
                                std::to_string(total) + ")");
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] <= offsets[i - 1])
      throw std::invalid_argument(what + ": " + name + ": row " + std::to_string(i - 1) + " is empty or offsets decrease");
}

void check_ids(const std::vector<int32_t>& ids, int64_t hi, const std::string& what, const char* name, const char* why) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= hi)
      throw std::invalid_argument(what + ": " + name + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                                  " is outside [0, " + std::to_string(hi) + ")" + why);
}

}  // namespace

void Rows::validate(const P5Config& config, const std::string& what) const {
  if (input_offsets.size() < 2) throw std::invalid_argument(what + ": it is empty (no rows)");
  if (target_offsets.size() != input_offsets.size())
    throw std::invalid_argument(what + ": " + std::to_string(size()) + " inputs but " +
                                std::to_string(static_cast<int64_t>(target_offsets.size()) - 1) +
                                " targets (inputOffsets and targetOffsets differ in length)");
  if (whole_word_ids.size() != input_ids.size())
    throw std::invalid_argument(what + ": wholeWordIds has " + std::to_string(whole_word_ids.size()) + " ids, inputIds " +
                                std::to_string(input_ids.size()));
  check_offsets(input_offsets, input_ids.size(), what, "inputOffsets");
  check_offsets(target_offsets, target_ids.size(), what, "targetOffsets");
  const char* hint = " (rows rendered with another tokenizer or vocabulary size?)";
  check_ids(input_ids, config.vocab_size, what, "inputIds", hint);
  check_ids(target_ids, config.vocab_size, what, "targetIds", hint);
  check_ids(whole_word_ids, config.whole_word_embeddings ? config.whole_word_size : std::numeric_limits<int32_t>::max(),
            what, "wholeWordIds", "");
}

Batch pad_rows(const Rows& data, const std::vector<int64_t>& rows, const torch::Device& device, bool whole_words,
               int64_t multiple) {
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t L = 0, T = 0;
  for (auto r : rows) {
    L = std::max(L, data.input_length(r));
    T = std::max(T, data.target_length(r));
  }
  L = (L + multiple - 1) / multiple * multiple;
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
