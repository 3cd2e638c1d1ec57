#include "engine/loss.h"

namespace paprec {

torch::Tensor shift_right(const torch::Tensor& labels) {
  auto start = torch::zeros({labels.size(0), 1}, labels.options());
  auto shifted = torch::cat({start, labels.slice(1, 0, labels.size(1) - 1)}, 1);
  return shifted.masked_fill(shifted == -100, 0);
}

torch::Tensor p5_loss_per_example(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t V = logits.size(-1);
  auto token_nll = torch::nn::functional::cross_entropy(
                       logits.reshape({-1, V}).to(torch::kFloat32), labels.reshape({-1}),
                       torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone).ignore_index(-100))
                       .view(labels.sizes());
  auto counts = (labels != -100).sum(1).clamp_min(1).to(torch::kFloat32);
  return token_nll.sum(1) / counts;
}

ForwardResult forward(const P5Model& model, const Batch& batch, const torch::Tensor& token_embeds) {
  ForwardResult r;
  auto embeds = token_embeds.defined() ? token_embeds : model.embed(batch.input_ids);
  r.encoder_hidden = model.encode(embeds, batch.attention_mask, batch.whole_words());
  auto hidden = model.decode(shift_right(batch.labels), r.encoder_hidden, batch.attention_mask);
  r.logits = model.lm_head(hidden);
  r.loss_per_example = p5_loss_per_example(r.logits, batch.labels);
  r.loss = r.loss_per_example.mean();
  return r;
}

InputGradients input_gradients(const P5Model& model, const Batch& batch) {
  auto embeds = model.embed(batch.input_ids).detach().requires_grad_(true);
  auto r = forward(model, batch, embeds);
  auto grads = torch::autograd::grad({r.loss}, {embeds});
  return {r.loss_per_example.detach(), grads[0].detach()};
}

}  // namespace paprec
