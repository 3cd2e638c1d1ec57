// Resident example sets: every example of a task and split uploaded once to the model's device, padded into
// length-sorted batches. Evaluating a prompt sends only slot tokens; they are spliced into the resident rows.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "engine/generate.h"
#include "engine/loss.h"
#include "engine/rows.h"
#include "model/t5.h"

namespace paprec {

// src/types.ts ExampleSet: its rows and where each row's slots are.
struct ExampleSetData {
  Rows rows;
  int64_t size = 0;
  int64_t num_task_slots = 0;
  bool has_user_slot = false;
  std::vector<int64_t> slot_positions;  // size * slots_per_row; -1 = this row has no such slot
  std::vector<int64_t> user_index;
  int64_t num_users = 0;
  int64_t slots_per_row() const { return num_task_slots + (has_user_slot ? 1 : 0); }
};

// Throws std::invalid_argument naming the first inconsistency (the rows' own, Rows::validate; slot positions
// outside their row, user indices outside [0, num_users)).
void validate_example_set(const ExampleSetData& d, const P5Config& config);

// One padded batch on the device, with where its slots are (flat indices into input_ids.view(-1)).
struct SetBatch {
  std::vector<int64_t> examples;  // original example indices, in row order
  Batch batch;                    // input_ids, attention_mask, whole_word_ids, labels (-100 padded)
  torch::Tensor task_flat, task_slot;  // flat position in the batch, and which task slot (0..S-1) fills it
  torch::Tensor user_flat, user_row;   // flat position, and the 0-based user index whose token fills it
};

// Slot tokens of one prompt: task [num_task_slots] and, for personalized prompts, user [num_users] (both long, on
// the device). An undefined `user` keeps the rendered user-slot tokens. `slot_embeddings` (a soft prompt, float
// [num_task_slots, d_model] on the device) replaces the task slots' input embeddings; whole-word embeddings are
// still added by the encoder, as for any token.
struct Assignment {
  torch::Tensor task, user, slot_embeddings;
};

class ResidentSet {
 public:
  // Uploads `data` (validated) to `device`; examples are sorted by source length and cut into batches of at most
  // `batch_size` rows.
  ResidentSet(ExampleSetData data, const P5Config& config, const torch::Device& device, int64_t batch_size);

  const ExampleSetData& data() const { return data_; }
  int64_t size() const { return data_.size; }
  const std::vector<SetBatch>& batches() const { return batches_; }
  torch::Device device() const { return device_; }
  // Target ids of example i (ending with </s>).
  std::vector<int64_t> target(int64_t i) const;

  // Batches over a subset of the examples (for sampled gradient passes), same layout.
  std::vector<SetBatch> make_batches(const std::vector<int64_t>& examples) const;
  // input_ids of `b` with the assignment's tokens written into its slots (a new tensor).
  static torch::Tensor splice(const SetBatch& b, const Assignment& a);
  // The token embeddings of the spliced rows of `b`, the task slots' rows replaced by a.slot_embeddings when given
  // (out of place: gradients flow to the slot embeddings).
  static torch::Tensor embed(const P5Model& model, const SetBatch& b, const Assignment& a);
  // Range / size checks of an assignment against this set (std::invalid_argument); slot embeddings must be
  // [num_task_slots, d_model] and finite.
  void check(const Assignment& a, const P5Config& config) const;

 private:
  ExampleSetData data_;
  torch::Device device_;
  int64_t batch_size_;
  std::vector<SetBatch> batches_;
};

struct EvaluateOptions {
  GenerateOptions gen;
  bool ranking = true;       // ranks of the target among the returned sequences; else the best generated ids
  bool whole_words = true;   // whole-word embeddings in generation (PAP-REC's code dropped them: a defect)
  int64_t shards = 1;
};

// Ranking: [size] int32 1-based rank of the target among the returned sequences (0 = absent). A returned sequence
// matches when its tokens after the start token, up to its first </s> (or its end), equal the target's tokens
// before its </s>. Explanation: [size, max_length - 1] int32, the best sequence without its start token
// (eos and pad 0 after it).
torch::Tensor evaluate(const P5Model& model, const ResidentSet& set, const Assignment& a, const EvaluateOptions& o);

// Per-example P5 loss [size] (float) of the spliced rows (teacher forcing, no gradients).
torch::Tensor example_losses(const P5Model& model, const ResidentSet& set, const Assignment& a, int64_t shards);

}  // namespace paprec
