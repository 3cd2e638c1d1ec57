#include "model/t5.h"

#include <cmath>
#include <stdexcept>

namespace paprec {
namespace {

std::string block(const char* stack, int64_t i) { return std::string(stack) + ".block." + std::to_string(i) + "."; }

// HF's additive masks: -1e4 for self-attention (encoder padding, decoder causality), -1e9 across.
constexpr double kSelfMask = -10000.0;
constexpr double kCrossMask = -1e9;

torch::Tensor additive_mask(const torch::Tensor& attention_mask, double value, torch::Dtype dtype) {
  // [B, L] of 1 / 0 -> [B, 1, 1, L] of 0 / value
  return (1.0 - attention_mask.to(dtype)).mul(value).unsqueeze(1).unsqueeze(1);
}

thread_local at::Generator* dropout_stream = nullptr;

}  // namespace

DropoutStream::DropoutStream(uint64_t seed)
    : generator_(at::detail::createCPUGenerator(seed)), previous_(dropout_stream) {
  dropout_stream = &generator_;
}
DropoutStream::~DropoutStream() { dropout_stream = previous_; }
at::Generator* DropoutStream::current() { return dropout_stream; }

torch::Tensor relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional,
                                       int64_t num_buckets, int64_t max_distance) {
  auto buckets = torch::zeros_like(relative_position);
  auto rel = relative_position;
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (rel > 0).to(torch::kLong) * num_buckets;
    rel = rel.abs();
  } else {
    rel = -torch::min(rel, torch::zeros_like(rel));
  }
  const int64_t max_exact = num_buckets / 2;
  auto is_small = rel < max_exact;
  // float32 log as in HF; the division by a Python float happens in float32 as well.
  auto large = (torch::log(rel.to(torch::kFloat) / static_cast<float>(max_exact)) /
                std::log(static_cast<double>(max_distance) / max_exact) * static_cast<double>(num_buckets - max_exact))
                   .to(torch::kLong) +
               max_exact;
  large = torch::min(large, torch::full_like(large, num_buckets - 1));
  return buckets + torch::where(is_small, rel, large);
}

P5Model::P5Model(const P5Config& c) : config_(c) {
  if (c.vocab_size <= 0 || c.d_model <= 0 || c.d_kv <= 0 || c.d_ff <= 0 || c.num_heads <= 0 || c.num_layers <= 0 ||
      c.num_decoder_layers <= 0 || c.num_buckets <= 1 || c.max_distance <= 1)
    throw std::invalid_argument("model config: every dimension must be a positive integer");
  const int64_t D = c.d_model, I = c.inner_dim(), F = c.d_ff, H = c.num_heads;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    names_.push_back(name);
    shapes_[name] = std::move(shape);
  };
  add("shared.weight", {c.vocab_size, D});
  auto attention = [&](const std::string& p) {
    add(p + ".q.weight", {I, D});
    add(p + ".k.weight", {I, D});
    add(p + ".v.weight", {I, D});
    add(p + ".o.weight", {D, I});
  };
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const auto b = block("encoder", i);
    attention(b + "layer.0.SelfAttention");
    if (i == 0) add(b + "layer.0.SelfAttention.relative_attention_bias.weight", {c.num_buckets, H});
    add(b + "layer.0.layer_norm.weight", {D});
    add(b + "layer.1.DenseReluDense.wi.weight", {F, D});
    add(b + "layer.1.DenseReluDense.wo.weight", {D, F});
    add(b + "layer.1.layer_norm.weight", {D});
  }
  add("encoder.final_layer_norm.weight", {D});
  if (c.whole_word_embeddings) add("encoder.whole_word_embeddings.weight", {c.whole_word_size, D});
  for (int64_t i = 0; i < c.num_decoder_layers; ++i) {
    const auto b = block("decoder", i);
    attention(b + "layer.0.SelfAttention");
    if (i == 0) add(b + "layer.0.SelfAttention.relative_attention_bias.weight", {c.num_buckets, H});
    add(b + "layer.0.layer_norm.weight", {D});
    attention(b + "layer.1.EncDecAttention");
    add(b + "layer.1.layer_norm.weight", {D});
    add(b + "layer.2.DenseReluDense.wi.weight", {F, D});
    add(b + "layer.2.DenseReluDense.wo.weight", {D, F});
    add(b + "layer.2.layer_norm.weight", {D});
  }
  add("decoder.final_layer_norm.weight", {D});
  for (const auto& name : names_) params_[name] = torch::zeros(shapes_[name]);
}

std::vector<int64_t> P5Model::expected_shape(const std::string& name) const {
  auto it = shapes_.find(name);
  if (it == shapes_.end()) throw std::invalid_argument("unexpected tensor " + name);
  return it->second;
}

torch::Tensor& P5Model::param(const std::string& name) {
  auto it = params_.find(name);
  if (it == params_.end()) throw std::invalid_argument("model has no tensor " + name);
  return it->second;
}

const torch::Tensor& P5Model::param(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) throw std::invalid_argument("model has no tensor " + name);
  return it->second;
}

std::vector<torch::Tensor> P5Model::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& name : names_) out.push_back(params_.at(name));
  return out;
}

void P5Model::init_weights(uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const double D = static_cast<double>(config_.d_model), K = static_cast<double>(config_.d_kv);
  const double HK = static_cast<double>(config_.inner_dim()), F = static_cast<double>(config_.d_ff);
  torch::NoGradGuard no_grad;
  for (const auto& name : names_) {
    auto t = torch::empty(shapes_[name], torch::kFloat32);
    auto ends = [&](const char* suffix) { return name.size() >= std::strlen(suffix) &&
                                                 name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0; };
    if (ends("layer_norm.weight")) t.fill_(1.0);
    else if (name == "shared.weight") t.normal_(0.0, 1.0, gen);
    // Zero: a model trained from scratch starts as plain T5 and learns word positions only where they help. At
    // the token embeddings' scale (P5 drew them N(0, 1) next to pretrained T5 embeddings far larger), they drown
    // the item ids in noise and the model never learns to read its input (README, "Pretraining on real Beauty").
    else if (name == "encoder.whole_word_embeddings.weight") t.zero_();
    else if (ends(".q.weight")) t.normal_(0.0, 1.0 / std::sqrt(D * K), gen);
    else if (ends(".k.weight") || ends(".v.weight")) t.normal_(0.0, 1.0 / std::sqrt(D), gen);
    else if (ends(".o.weight")) t.normal_(0.0, 1.0 / std::sqrt(HK), gen);
    else if (ends("relative_attention_bias.weight")) t.normal_(0.0, 1.0 / std::sqrt(D), gen);
    else if (ends(".wi.weight")) t.normal_(0.0, 1.0 / std::sqrt(D), gen);
    else if (ends(".wo.weight")) t.normal_(0.0, 1.0 / std::sqrt(F), gen);
    else throw std::logic_error("no initialiser for " + name);
    params_[name] = t.to(device_, dtype_);
  }
}

void P5Model::to(torch::Device device, torch::Dtype dtype) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : params_) {
    // Layer norms stay in fp32: T5 computes them in fp32 whatever the weights' precision.
    const bool norm = name.find("layer_norm") != std::string::npos;
    t = t.to(device, norm ? torch::kFloat32 : dtype).detach();
  }
  device_ = device;
  dtype_ = dtype;
}

torch::Tensor P5Model::dropout(const torch::Tensor& x) const {
  if (!training_ || config_.dropout <= 0) return x;
  auto* stream = DropoutStream::current();
  if (stream == nullptr || !x.is_cpu()) return torch::dropout(x, config_.dropout, true);
  const double keep = 1.0 - config_.dropout;
  return x * torch::empty_like(x).bernoulli_(keep, *stream).div_(keep);
}

torch::Tensor P5Model::rms_norm(const torch::Tensor& x, const std::string& name) const {
  auto xf = x.to(torch::kFloat32);
  auto variance = xf.pow(2).mean(-1, true);
  auto y = xf * torch::rsqrt(variance + config_.layer_norm_eps);
  return (param(name) * y).to(x.scalar_type());
}

torch::Tensor P5Model::feed_forward(const torch::Tensor& x, const std::string& p) const {
  auto h = torch::relu(torch::nn::functional::linear(x, param(p + ".wi.weight")));
  return torch::nn::functional::linear(dropout(h), param(p + ".wo.weight"));
}

torch::Tensor P5Model::position_bias(int64_t q_len, int64_t k_len, bool bidirectional, const std::string& table,
                                     int64_t q_offset) const {
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(device_);
  auto context = torch::arange(q_offset, q_offset + q_len, opts).unsqueeze(1);
  auto memory = torch::arange(k_len, opts).unsqueeze(0);
  auto buckets = relative_position_bucket(memory - context, bidirectional, config_.num_buckets, config_.max_distance);
  auto values = torch::embedding(param(table), buckets);  // [q, k, H]
  return values.permute({2, 0, 1}).unsqueeze(0);          // [1, H, q, k]
}

torch::Tensor P5Model::attention(const torch::Tensor& x, const torch::Tensor& kv_source, const std::string& p,
                                 const torch::Tensor& bias) const {
  const int64_t B = x.size(0), H = config_.num_heads, dk = config_.d_kv;
  auto heads = [&](const torch::Tensor& t) { return t.view({B, -1, H, dk}).transpose(1, 2); };
  auto q = heads(torch::nn::functional::linear(x, param(p + ".q.weight")));
  auto k = heads(torch::nn::functional::linear(kv_source, param(p + ".k.weight")));
  auto v = heads(torch::nn::functional::linear(kv_source, param(p + ".v.weight")));
  auto scores = torch::matmul(q, k.transpose(2, 3)) + bias;  // T5: no 1/sqrt(d_kv)
  auto weights = torch::softmax(scores.to(torch::kFloat32), -1).to(scores.scalar_type());
  auto out = torch::matmul(dropout(weights), v).transpose(1, 2).reshape({B, -1, H * dk});
  return torch::nn::functional::linear(out, param(p + ".o.weight"));
}

torch::Tensor P5Model::embed(const torch::Tensor& ids) const { return torch::embedding(param("shared.weight"), ids); }

torch::Tensor P5Model::encode(const torch::Tensor& token_embeds, const torch::Tensor& attention_mask,
                              const std::optional<torch::Tensor>& whole_word_ids) const {
  auto h = token_embeds;
  if (config_.whole_word_embeddings && whole_word_ids)
    h = h + torch::embedding(param("encoder.whole_word_embeddings.weight"), *whole_word_ids);
  h = dropout(h);
  const int64_t L = h.size(1);
  auto bias = position_bias(L, L, true, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")
                  .to(h.scalar_type()) +
              additive_mask(attention_mask, kSelfMask, h.scalar_type());
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const auto b = block("encoder", i);
    auto n = rms_norm(h, b + "layer.0.layer_norm.weight");
    h = h + dropout(attention(n, n, b + "layer.0.SelfAttention", bias));
    n = rms_norm(h, b + "layer.1.layer_norm.weight");
    h = h + dropout(feed_forward(n, b + "layer.1.DenseReluDense"));
  }
  return dropout(rms_norm(h, "encoder.final_layer_norm.weight"));
}

torch::Tensor P5Model::decode(const torch::Tensor& decoder_input_ids, const torch::Tensor& encoder_hidden,
                              const torch::Tensor& attention_mask) const {
  auto h = dropout(embed(decoder_input_ids));
  const int64_t T = h.size(1);
  auto causal = torch::ones({T, T}, torch::TensorOptions().device(device_)).tril();
  auto self_bias =
      position_bias(T, T, false, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")
          .to(h.scalar_type()) +
      (1.0 - causal).mul(kSelfMask).to(h.scalar_type()).view({1, 1, T, T});
  auto cross_bias = additive_mask(attention_mask, kCrossMask, h.scalar_type());
  for (int64_t i = 0; i < config_.num_decoder_layers; ++i) {
    const auto b = block("decoder", i);
    auto n = rms_norm(h, b + "layer.0.layer_norm.weight");
    h = h + dropout(attention(n, n, b + "layer.0.SelfAttention", self_bias));
    n = rms_norm(h, b + "layer.1.layer_norm.weight");
    h = h + dropout(attention(n, encoder_hidden, b + "layer.1.EncDecAttention", cross_bias));
    n = rms_norm(h, b + "layer.2.layer_norm.weight");
    h = h + dropout(feed_forward(n, b + "layer.2.DenseReluDense"));
  }
  return dropout(rms_norm(h, "decoder.final_layer_norm.weight"));
}

torch::Tensor P5Model::lm_head(const torch::Tensor& hidden) const {
  // Tied embeddings: T5 rescales the decoder output by d_model^-0.5 before the shared projection.
  return torch::nn::functional::linear(hidden * std::pow(static_cast<double>(config_.d_model), -0.5),
                                       param("shared.weight"));
}

DecoderCache P5Model::start_cache(const torch::Tensor& encoder_hidden, const torch::Tensor& attention_mask) const {
  DecoderCache cache;
  const int64_t B = encoder_hidden.size(0), H = config_.num_heads, dk = config_.d_kv;
  auto heads = [&](const torch::Tensor& t) { return t.view({B, -1, H, dk}).transpose(1, 2).contiguous(); };
  for (int64_t i = 0; i < config_.num_decoder_layers; ++i) {
    const auto p = block("decoder", i) + "layer.1.EncDecAttention";
    cache.cross.push_back({heads(torch::nn::functional::linear(encoder_hidden, param(p + ".k.weight"))),
                           heads(torch::nn::functional::linear(encoder_hidden, param(p + ".v.weight")))});
    cache.self.push_back({});
  }
  cache.cross_bias = additive_mask(attention_mask, kCrossMask, encoder_hidden.scalar_type());
  return cache;
}

torch::Tensor P5Model::decode_step(const torch::Tensor& ids, int64_t step, DecoderCache& cache) const {
  const int64_t R = ids.size(0), H = config_.num_heads, dk = config_.d_kv;
  const int64_t B = cache.cross.front().k.size(0), G = R / B;  // G rows (beams) share one example's encoder
  auto h = embed(ids);  // [R, 1, D]
  auto heads = [&](const torch::Tensor& t) { return t.view({R, -1, H, dk}).transpose(1, 2); };
  auto self_bias =
      position_bias(1, step + 1, false, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", step)
          .to(h.scalar_type());
  for (int64_t i = 0; i < config_.num_decoder_layers; ++i) {
    const auto b = block("decoder", i);
    // self-attention over all positions so far
    auto n = rms_norm(h, b + "layer.0.layer_norm.weight");
    const auto sp = b + "layer.0.SelfAttention";
    auto q = heads(torch::nn::functional::linear(n, param(sp + ".q.weight")));
    auto k = heads(torch::nn::functional::linear(n, param(sp + ".k.weight")));
    auto v = heads(torch::nn::functional::linear(n, param(sp + ".v.weight")));
    auto& kv = cache.self[i];
    kv.k = kv.k.defined() ? torch::cat({kv.k, k}, 2) : k;
    kv.v = kv.v.defined() ? torch::cat({kv.v, v}, 2) : v;
    auto scores = torch::matmul(q, kv.k.transpose(2, 3)) + self_bias;
    auto w = torch::softmax(scores.to(torch::kFloat32), -1).to(scores.scalar_type());
    auto out = torch::matmul(w, kv.v).transpose(1, 2).reshape({R, 1, H * dk});
    h = h + torch::nn::functional::linear(out, param(sp + ".o.weight"));
    // cross-attention: the G rows of one example are G queries against that example's keys and values
    n = rms_norm(h, b + "layer.1.layer_norm.weight");
    const auto cp = b + "layer.1.EncDecAttention";
    auto cq = torch::nn::functional::linear(n, param(cp + ".q.weight")).view({B, G, H, dk}).transpose(1, 2);
    auto cs = torch::matmul(cq, cache.cross[i].k.transpose(2, 3)) + cache.cross_bias;  // [B, H, G, L]
    auto cw = torch::softmax(cs.to(torch::kFloat32), -1).to(cs.scalar_type());
    auto co = torch::matmul(cw, cache.cross[i].v).transpose(1, 2).reshape({R, 1, H * dk});
    h = h + torch::nn::functional::linear(co, param(cp + ".o.weight"));
    n = rms_norm(h, b + "layer.2.layer_norm.weight");
    h = h + feed_forward(n, b + "layer.2.DenseReluDense");
  }
  h = rms_norm(h, "decoder.final_layer_norm.weight");
  return lm_head(h).squeeze(1);
}

void P5Model::select_rows(DecoderCache& cache, const torch::Tensor& rows, bool self_only) {
  for (auto& kv : cache.self)
    if (kv.k.defined()) {
      kv.k = kv.k.index_select(0, rows);
      kv.v = kv.v.index_select(0, rows);
    }
  if (self_only) return;
  for (auto& kv : cache.cross) {
    kv.k = kv.k.index_select(0, rows);
    kv.v = kv.v.index_select(0, rows);
  }
  cache.cross_bias = cache.cross_bias.index_select(0, rows);
}

}  // namespace paprec
