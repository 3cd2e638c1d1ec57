// Beam search and greedy decoding with Hugging Face transformers 4.x semantics (REFERENCE.md §6; the fixtures
// README lists every rule). No work HF's loop wastes: the encoder runs once per example and its cross-attention
// keys and values are computed once and shared by all of that example's beams (P5Model::decode_step reads them per
// example, not per beam); step 1 decodes one beam per example (the others hold the same start token); an example
// whose hypotheses are done leaves the batch; the self-attention cache is preallocated for max_length positions.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <optional>

#include "model/t5.h"

namespace paprec {

class PrefixConstraint;  // engine/constraint.h

struct GenerateOptions {
  int64_t num_beams = 1;            // 1 = greedy
  int64_t num_return_sequences = 1;
  int64_t max_length = 20;          // counts the decoder start token
  int64_t min_length = 0;           // counts the start token too: eos is banned while cur_len < min_length
  bool early_stopping = false;
  double length_penalty = 1.0;
  int64_t eos = 1, pad = 0, start = 0;
  // > 0: ids from here on are never generated (a T5 v1.1 model keeps rows beyond its tokenizer's pieces).
  int64_t vocab_limit = 0;
  std::shared_ptr<const PrefixConstraint> constraint;  // constrained decoding (allowed sequences); null: free
};

struct GenerateResult {
  torch::Tensor sequences;      // [rows * nrs, len] long, CPU; hypotheses of row i at i*nrs.., best first
  torch::Tensor scores;         // [rows * nrs] float, CPU (beam search); undefined for greedy
  torch::Tensor chosen_logits;  // [rows, steps] float, CPU (greedy): processed logit of the emitted token
};

// Throws std::invalid_argument for inconsistent options (nrs > beams, max_length < 2, ...).
void check_generate_options(const GenerateOptions& o);

// From token ids: embeds, encodes (whole-word embeddings when given and the model has them), decodes.
GenerateResult generate(const P5Model& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const std::optional<torch::Tensor>& whole_word_ids, const GenerateOptions& o);
// From encoder states [B, L, D] (the resident example sets encode spliced rows themselves).
GenerateResult generate_encoded(const P5Model& model, const torch::Tensor& encoder_hidden,
                                const torch::Tensor& attention_mask, const GenerateOptions& o);

// COMPARISON PATH for the benchmarks only: the same search without a KV cache, every step re-running the full
// decoder over all prefixes with the encoder states repeated per beam (cross K/V recomputed per beam and step),
// one example at a time. Same outputs, much slower.
GenerateResult generate_naive(const P5Model& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                              const std::optional<torch::Tensor>& whole_word_ids, const GenerateOptions& o);

}  // namespace paprec
