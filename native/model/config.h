// T5 hyper-parameters (REFERENCE.md §1): P5 / T5 v1.0 by default; T5 v1.1 and Flan-T5 set a gated feed-forward with
// GELU (tanh form) and an untied head. Parsed from a JS object by bind/convert.
#pragma once
#include <cstdint>
#include <string>

namespace paprec {

// The feed-forward's activation: HF's "relu" and "gelu_new" (GELU, tanh approximation).
enum class Activation { kRelu, kGeluTanh };

struct P5Config {
  int64_t vocab_size = 32100;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_heads = 8;
  int64_t num_layers = 6;          // encoder blocks
  int64_t num_decoder_layers = 6;  // decoder blocks
  int64_t num_buckets = 32;        // relative position buckets
  int64_t max_distance = 128;
  double layer_norm_eps = 1e-6;
  double dropout = 0.1;
  bool whole_word_embeddings = true;
  int64_t whole_word_size = 512;
  // T5 v1.1: wo(act(wi_0 x) * wi_1 x) instead of wo(act(wi x)).
  bool gated = false;
  Activation activation = Activation::kRelu;
  // false: a separate lm_head.weight, applied without T5's d_model^-0.5 rescale.
  bool tie_word_embeddings = true;

  int64_t inner_dim() const { return num_heads * d_kv; }
};

}  // namespace paprec
