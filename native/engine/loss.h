// Teacher-forced P5 loss and its gradient with respect to the input token embeddings.
#pragma once
#include <torch/torch.h>

#include <optional>

#include "model/t5.h"

namespace paprec {

// A padded batch on the model's device. labels are padded with -100 (ignored); whole_word_ids may be undefined.
struct Batch {
  torch::Tensor input_ids;       // [B, L] long
  torch::Tensor attention_mask;  // [B, L] long
  torch::Tensor whole_word_ids;  // [B, L] long or undefined
  torch::Tensor labels;          // [B, T] long or undefined
  std::optional<torch::Tensor> whole_words() const {
    return whole_word_ids.defined() ? std::optional<torch::Tensor>(whole_word_ids) : std::nullopt;
  }
};

// labels shifted right behind the decoder start token (pad 0); -100 becomes pad.
torch::Tensor shift_right(const torch::Tensor& labels);

struct ForwardResult {
  torch::Tensor logits;             // [B, T, V]
  torch::Tensor loss_per_example;   // [B]: summed token NLL / number of target tokens
  torch::Tensor loss;               // scalar: batch mean of loss_per_example
  torch::Tensor encoder_hidden;     // [B, L, D]
};

// P5's per-example loss from logits and labels (-100 ignored).
torch::Tensor p5_loss_per_example(const torch::Tensor& logits, const torch::Tensor& labels);

// Forward with teacher forcing; token_embeds overrides the embedding lookup (for input gradients).
ForwardResult forward(const P5Model& model, const Batch& batch, const torch::Tensor& token_embeds = {});

struct InputGradients {
  torch::Tensor loss_per_example;  // [B]
  torch::Tensor gradients;         // [B, L, D]: d(batch-mean P5 loss) / d token embeddings; 0 at padding
};

// The gradient of the P5 loss w.r.t. the token embeddings (before whole-word embeddings are added). Weights
// stay frozen: no weight gradient is ever computed. Dropout follows the model's mode (eval for slot search).
InputGradients input_gradients(const P5Model& model, const Batch& batch);

}  // namespace paprec
