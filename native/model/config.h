// P5 / T5 v1.0 hyper-parameters (REFERENCE.md §1). Parsed from a JS object by bind/convert.
#pragma once
#include <cstdint>

namespace paprec {

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

  int64_t inner_dim() const { return num_heads * d_kv; }
};

}  // namespace paprec
