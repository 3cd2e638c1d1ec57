// The P5 backbone: a T5 v1.0 encoder-decoder with whole-word embeddings added in the encoder.
// Weights live in one name -> tensor table keyed by their Hugging Face names (the tied embedding once, as
// `shared.weight`), so checkpoints, the optimizer and the model read the same table.
#pragma once
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"

namespace paprec {

// Keys and values of one attention layer, cached across decoding steps.
struct KV {
  torch::Tensor k, v;  // [B, H, S, d_kv]
};

// Everything the decoder needs from the encoder for incremental decoding.
struct DecoderCache {
  std::vector<KV> self;    // grows by one position per step
  std::vector<KV> cross;   // computed once from the encoder output
  torch::Tensor cross_bias;  // [B, 1, 1, L] additive mask of padded encoder positions
};

// While alive, dropout on the constructing thread draws its masks from a CPU generator seeded with `seed`, not from
// LibTorch's global one: the trainer runs batch shards on parallel threads, each with its own stream of masks, so
// a run stays reproducible. Nests; CPU tensors only.
class DropoutStream {
 public:
  explicit DropoutStream(uint64_t seed);
  ~DropoutStream();
  DropoutStream(const DropoutStream&) = delete;
  DropoutStream& operator=(const DropoutStream&) = delete;
  static at::Generator* current();

 private:
  at::Generator generator_;
  at::Generator* previous_;
};

class P5Model {
 public:
  explicit P5Model(const P5Config& config);

  const P5Config& config() const { return config_; }
  // Weights by HF name, in a stable order (the order of expected_names()).
  std::vector<std::string> names() const { return names_; }
  std::vector<int64_t> expected_shape(const std::string& name) const;
  torch::Tensor& param(const std::string& name);
  const torch::Tensor& param(const std::string& name) const;
  std::vector<torch::Tensor> parameters() const;

  // T5's initialisation (HF `_init_weights`), reproducible from `seed`.
  void init_weights(uint64_t seed);
  void to(torch::Device device, torch::Dtype dtype);
  torch::Device device() const { return device_; }
  torch::Dtype dtype() const { return dtype_; }
  void set_training(bool on) { training_ = on; }
  bool training() const { return training_; }

  // Token embeddings of input ids (the tensor the slot gradients are taken against).
  torch::Tensor embed(const torch::Tensor& ids) const;
  // Encoder over precomputed token embeddings [B, L, D]; adds whole-word embeddings when given.
  torch::Tensor encode(const torch::Tensor& token_embeds, const torch::Tensor& attention_mask,
                       const std::optional<torch::Tensor>& whole_word_ids) const;
  // Decoder with teacher forcing: hidden states [B, T, D] (before the head's scale).
  torch::Tensor decode(const torch::Tensor& decoder_input_ids, const torch::Tensor& encoder_hidden,
                       const torch::Tensor& attention_mask) const;
  // The tied head: logits of decoder hidden states.
  torch::Tensor lm_head(const torch::Tensor& hidden) const;

  // Incremental decoding: prepare the cross-attention keys / values once, then one token per step.
  DecoderCache start_cache(const torch::Tensor& encoder_hidden, const torch::Tensor& attention_mask) const;
  // ids [B, 1] at position `step` (0-based); returns logits [B, V] and appends to the self-attention cache.
  torch::Tensor decode_step(const torch::Tensor& ids, int64_t step, DecoderCache& cache) const;
  // Reorder / repeat cache rows (beam search): rows = index into the current batch rows.
  static void select_rows(DecoderCache& cache, const torch::Tensor& rows, bool self_only);

 private:
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& kv_source, const std::string& prefix,
                          const torch::Tensor& bias) const;
  torch::Tensor feed_forward(const torch::Tensor& x, const std::string& prefix) const;
  torch::Tensor rms_norm(const torch::Tensor& x, const std::string& name) const;
  torch::Tensor dropout(const torch::Tensor& x) const;
  torch::Tensor position_bias(int64_t q_len, int64_t k_len, bool bidirectional, const std::string& table,
                              int64_t q_offset = 0) const;

  P5Config config_;
  std::vector<std::string> names_;
  std::map<std::string, torch::Tensor> params_;
  std::map<std::string, std::vector<int64_t>> shapes_;
  torch::Device device_ = torch::kCPU;
  torch::Dtype dtype_ = torch::kFloat32;
  bool training_ = false;
};

// HF's relative position bucket (T5Attention._relative_position_bucket), float32 log, truncated.
torch::Tensor relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional,
                                       int64_t num_buckets, int64_t max_distance);

}  // namespace paprec
