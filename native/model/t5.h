// The P5 backbone: a T5 encoder-decoder (v1.0, or v1.1 with a gated feed-forward and an untied head) with P5's
// whole-word embeddings added in the encoder. Weights live in one name -> tensor table keyed by their Hugging Face
// names (the tied embedding once, as `shared.weight`), so checkpoints, the optimizer and the model read the same
// table; each block's weights are resolved from it once (`bind`), not looked up by name in every call.
#pragma once
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"

namespace paprec {

// Keys and values of one attention layer. In the decoder's self-attention cache, k and v are preallocated for
// every position of a search ([R, H, capacity, d_kv]) and the first `len` positions are filled.
struct KV {
  torch::Tensor k, v;
  int64_t len = 0;
};

// Everything the decoder needs from the encoder for incremental decoding.
struct DecoderCache {
  std::vector<KV> self;      // one row per decoded sequence (beam), one position per step
  std::vector<KV> cross;     // one row per example, shared by its beams; computed once from the encoder output
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
  // Moves the weights; layer norms stay fp32 whatever `dtype` is (T5 normalises in fp32).
  void to(torch::Device device, torch::Dtype dtype);
  torch::Device device() const { return device_; }
  torch::Dtype dtype() const { return dtype_; }
  void set_training(bool on) { training_ = on; }
  bool training() const { return training_; }

  // Token embeddings of input ids (the tensor the slot gradients are taken against).
  torch::Tensor embed(const torch::Tensor& ids) const;
  // Encoder over precomputed token embeddings [B, L, D]; adds whole-word embeddings when given. Padded positions
  // are not computed: their states are 0.
  torch::Tensor encode(const torch::Tensor& token_embeds, const torch::Tensor& attention_mask,
                       const std::optional<torch::Tensor>& whole_word_ids) const;
  // Decoder with teacher forcing: hidden states [B, T, D] (before the head).
  torch::Tensor decode(const torch::Tensor& decoder_input_ids, const torch::Tensor& encoder_hidden,
                       const torch::Tensor& attention_mask) const;
  // Logits of decoder hidden states: the tied embedding after T5's d_model^-0.5 rescale, or the untied lm_head.
  torch::Tensor lm_head(const torch::Tensor& hidden) const;

  // Incremental decoding: the cross-attention keys / values once per example, room for `capacity` positions.
  DecoderCache start_cache(const torch::Tensor& encoder_hidden, const torch::Tensor& attention_mask,
                           int64_t capacity) const;
  // ids [R, 1] at position `step` (0-based), R = examples x rows per example; returns logits [R, V] and appends
  // to the self-attention cache.
  torch::Tensor decode_step(const torch::Tensor& ids, int64_t step, DecoderCache& cache) const;
  // Beam search picked its parents: self-attention row r becomes old row rows[r]. With `examples`, only those
  // examples stay in the cross-attention cache (finished ones leave the batch).
  static void select_rows(DecoderCache& cache, const torch::Tensor& rows,
                          const std::optional<torch::Tensor>& examples = std::nullopt);

 private:
  struct Attention {
    torch::Tensor q, k, v, o;
  };
  struct FeedForward {
    torch::Tensor wi, wi_1, wo;  // gated: wi is wi_0, the activated branch
  };
  struct EncoderBlock {
    torch::Tensor self_norm, ff_norm;
    Attention self;
    FeedForward ff;
  };
  struct DecoderBlock {
    torch::Tensor self_norm, cross_norm, ff_norm;
    Attention self, cross;
    FeedForward ff;
  };

  // Resolves every block's weights from the table; called whenever the table's tensors are replaced.
  void bind();
  KV project_kv(const Attention& w, const torch::Tensor& source) const;
  torch::Tensor attention(const torch::Tensor& q, const KV& kv, const torch::Tensor& bias) const;
  torch::Tensor attend(const Attention& w, const torch::Tensor& x, const KV& kv, const torch::Tensor& bias) const;
  torch::Tensor feed_forward(const FeedForward& w, const torch::Tensor& x) const;
  torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const;
  torch::Tensor dropout(const torch::Tensor& x) const;
  torch::Tensor position_bias(const torch::Tensor& table, int64_t q_len, int64_t k_len, bool bidirectional,
                              int64_t q_offset = 0) const;

  P5Config config_;
  std::vector<std::string> names_;
  std::map<std::string, torch::Tensor> params_;
  std::map<std::string, std::vector<int64_t>> shapes_;
  std::vector<EncoderBlock> encoder_;
  std::vector<DecoderBlock> decoder_;
  torch::Tensor shared_, head_, whole_word_, encoder_bias_, decoder_bias_, encoder_norm_, decoder_norm_;
  torch::Device device_ = torch::kCPU;
  torch::Dtype dtype_ = torch::kFloat32;
  bool training_ = false;
};

// A layer norm's weight (stays fp32 in every precision; no weight decay).
bool is_layer_norm(const std::string& name);

// HF's relative position bucket (T5Attention._relative_position_bucket), float32 log, truncated.
torch::Tensor relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional,
                                       int64_t num_buckets, int64_t max_distance);

}  // namespace paprec
