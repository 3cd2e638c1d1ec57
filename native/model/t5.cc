#include "model/t5.h"

#include <cmath>
#include <cstring>
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

// y = x W^T: HF's nn.Linear without bias.
torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& w) { return torch::nn::functional::linear(x, w); }

}  // namespace

DropoutStream::DropoutStream(uint64_t seed)
    : generator_(at::detail::createCPUGenerator(seed)), previous_(dropout_stream) {
  dropout_stream = &generator_;
}
DropoutStream::~DropoutStream() { dropout_stream = previous_; }
at::Generator* DropoutStream::current() { return dropout_stream; }

bool is_layer_norm(const std::string& name) { return name.find("layer_norm") != std::string::npos; }

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
  auto attention = [&](const std::string& p) {
    for (const char* w : {".q.weight", ".k.weight", ".v.weight"}) add(p + w, {I, D});
    add(p + ".o.weight", {D, I});
  };
  auto feed_forward = [&](const std::string& p) {
    if (c.gated) {
      add(p + ".wi_0.weight", {F, D});
      add(p + ".wi_1.weight", {F, D});
    } else {
      add(p + ".wi.weight", {F, D});
    }
    add(p + ".wo.weight", {D, F});
  };
  add("shared.weight", {c.vocab_size, D});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const auto b = block("encoder", i);
    attention(b + "layer.0.SelfAttention");
    if (i == 0) add(b + "layer.0.SelfAttention.relative_attention_bias.weight", {c.num_buckets, H});
    add(b + "layer.0.layer_norm.weight", {D});
    feed_forward(b + "layer.1.DenseReluDense");
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
    feed_forward(b + "layer.2.DenseReluDense");
    add(b + "layer.2.layer_norm.weight", {D});
  }
  add("decoder.final_layer_norm.weight", {D});
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, D});
  for (const auto& name : names_) params_[name] = torch::zeros(shapes_[name]);
  bind();
}

void P5Model::bind() {
  auto p = [this](const std::string& name) { return params_.at(name); };
  auto attention = [&](const std::string& prefix) {
    return Attention{p(prefix + ".q.weight"), p(prefix + ".k.weight"), p(prefix + ".v.weight"), p(prefix + ".o.weight")};
  };
  auto feed_forward = [&](const std::string& prefix) {
    if (config_.gated) return FeedForward{p(prefix + ".wi_0.weight"), p(prefix + ".wi_1.weight"), p(prefix + ".wo.weight")};
    return FeedForward{p(prefix + ".wi.weight"), {}, p(prefix + ".wo.weight")};
  };
  encoder_.clear();
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const auto b = block("encoder", i);
    encoder_.push_back({p(b + "layer.0.layer_norm.weight"), p(b + "layer.1.layer_norm.weight"),
                        attention(b + "layer.0.SelfAttention"), feed_forward(b + "layer.1.DenseReluDense")});
  }
  decoder_.clear();
  for (int64_t i = 0; i < config_.num_decoder_layers; ++i) {
    const auto b = block("decoder", i);
    decoder_.push_back({p(b + "layer.0.layer_norm.weight"), p(b + "layer.1.layer_norm.weight"),
                        p(b + "layer.2.layer_norm.weight"), attention(b + "layer.0.SelfAttention"),
                        attention(b + "layer.1.EncDecAttention"), feed_forward(b + "layer.2.DenseReluDense")});
  }
  shared_ = p("shared.weight");
  head_ = config_.tie_word_embeddings ? shared_ : p("lm_head.weight");
  whole_word_ = config_.whole_word_embeddings ? p("encoder.whole_word_embeddings.weight") : torch::Tensor();
  encoder_bias_ = p("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
  decoder_bias_ = p("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
  encoder_norm_ = p("encoder.final_layer_norm.weight");
  decoder_norm_ = p("decoder.final_layer_norm.weight");
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
    // HF: an untied head starts at std 1 (T5 v1.1 `_init_weights`).
    else if (name == "lm_head.weight") t.normal_(0.0, 1.0, gen);
    // Zero: a model trained from scratch starts as plain T5 and learns word positions only where they help. At
    // the token embeddings' scale (P5 drew them N(0, 1) next to pretrained T5 embeddings far larger), they drown
    // the item ids in noise and the model never learns to read its input (README, "Pretraining on real Beauty").
    else if (name == "encoder.whole_word_embeddings.weight") t.zero_();
    else if (ends(".q.weight")) t.normal_(0.0, 1.0 / std::sqrt(D * K), gen);
    else if (ends(".k.weight") || ends(".v.weight")) t.normal_(0.0, 1.0 / std::sqrt(D), gen);
    else if (ends(".o.weight")) t.normal_(0.0, 1.0 / std::sqrt(HK), gen);
    else if (ends("relative_attention_bias.weight")) t.normal_(0.0, 1.0 / std::sqrt(D), gen);
    else if (ends(".wi.weight") || ends(".wi_0.weight") || ends(".wi_1.weight")) t.normal_(0.0, 1.0 / std::sqrt(D), gen);
    else if (ends(".wo.weight")) t.normal_(0.0, 1.0 / std::sqrt(F), gen);
    else throw std::logic_error("no initialiser for " + name);
    params_[name] = t.to(device_, is_layer_norm(name) ? torch::kFloat32 : dtype_);
  }
  bind();
}

void P5Model::to(torch::Device device, torch::Dtype dtype) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : params_) t = t.to(device, is_layer_norm(name) ? torch::kFloat32 : dtype).detach();
  device_ = device;
  dtype_ = dtype;
  bind();
}

torch::Tensor P5Model::dropout(const torch::Tensor& x) const {
  if (!training_ || config_.dropout <= 0) return x;
  auto* stream = DropoutStream::current();
  if (stream == nullptr || !x.is_cpu()) return torch::dropout(x, config_.dropout, true);
  const double keep = 1.0 - config_.dropout;
  return x * torch::empty_like(x).bernoulli_(keep, *stream).div_(keep);
}

// T5's RMS norm in fp32, the result in the precision of the stream it normalises.
torch::Tensor P5Model::rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  auto xf = x.to(torch::kFloat32);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + config_.layer_norm_eps);
  return (weight * y).to(x.scalar_type());
}

torch::Tensor P5Model::feed_forward(const FeedForward& w, const torch::Tensor& x) const {
  auto act = [this](const torch::Tensor& t) {
    return config_.activation == Activation::kGeluTanh ? torch::gelu(t, "tanh") : torch::relu(t);
  };
  auto h = act(dense(x, w.wi));
  if (config_.gated) h = h * dense(x, w.wi_1);
  return dense(dropout(h), w.wo);
}

torch::Tensor P5Model::position_bias(const torch::Tensor& table, int64_t q_len, int64_t k_len, bool bidirectional,
                                     int64_t q_offset) const {
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(device_);
  auto context = torch::arange(q_offset, q_offset + q_len, opts).unsqueeze(1);
  auto memory = torch::arange(k_len, opts).unsqueeze(0);
  auto buckets = relative_position_bucket(memory - context, bidirectional, config_.num_buckets, config_.max_distance);
  return torch::embedding(table, buckets).permute({2, 0, 1}).unsqueeze(0);  // [1, H, q, k]
}

KV P5Model::project_kv(const Attention& w, const torch::Tensor& source) const {
  const int64_t B = source.size(0), H = config_.num_heads, dk = config_.d_kv;
  auto heads = [&](const torch::Tensor& t) { return t.view({B, -1, H, dk}).transpose(1, 2); };
  return {heads(dense(source, w.k)), heads(dense(source, w.v)), source.size(1)};
}

// The one attention of the model (T5: no 1/sqrt(d_kv)): softmax(q k^T + bias) v, softmax in fp32. q [B, H, Tq, d_kv];
// kv [B, H, >= len, d_kv]; bias broadcasts to [B, H, Tq, len]. Returns [B, H, Tq, d_kv].
torch::Tensor P5Model::attention(const torch::Tensor& q, const KV& kv, const torch::Tensor& bias) const {
  const bool whole = kv.len == kv.k.size(2);
  auto k = whole ? kv.k : kv.k.narrow(2, 0, kv.len), v = whole ? kv.v : kv.v.narrow(2, 0, kv.len);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  // LibTorch's fused kernel (flash attention on the CPU): the same softmax with fp32 accumulation, far fewer passes
  // over memory. Not while dropout is on: its masks would come from LibTorch's global generator, not the trainer's
  // per-shard streams.
  if (!training_ || config_.dropout <= 0) return at::scaled_dot_product_attention(q, k, v, bias, 0.0, false, 1.0);
#endif
  auto scores = torch::matmul(q, k.transpose(2, 3)) + bias;
  auto weights = torch::softmax(scores.to(torch::kFloat32), -1).to(scores.scalar_type());
  return torch::matmul(dropout(weights), v);
}

// An attention layer over unpacked rows: x [R, T, D]; kv [B, H, >= len, d_kv] with R = B x G: the G rows of one
// example (its beams) query that example's keys and values together.
torch::Tensor P5Model::attend(const Attention& w, const torch::Tensor& x, const KV& kv, const torch::Tensor& bias) const {
  const int64_t R = x.size(0), T = x.size(1), B = kv.k.size(0), H = config_.num_heads, dk = config_.d_kv;
  auto q = dense(x, w.q).view({B, -1, H, dk}).transpose(1, 2);
  return dense(attention(q, kv, bias).transpose(1, 2).reshape({R, T, -1}), w.o);
}

torch::Tensor P5Model::embed(const torch::Tensor& ids) const { return torch::embedding(shared_, ids); }

namespace {

// The real tokens of a padded batch [B, L, X] as packed rows [N, X] and back (zeros at padding). A batch without
// padding packs by a view.
struct Packing {
  int64_t B, L;
  torch::Tensor index;  // flat positions of the real tokens; undefined when there is no padding
  Packing(const torch::Tensor& attention_mask) : B(attention_mask.size(0)), L(attention_mask.size(1)) {
    auto flat = attention_mask.reshape({-1});
    if (flat.sum().item<int64_t>() < B * L) index = flat.nonzero().squeeze(1);
  }
  torch::Tensor pack(const torch::Tensor& t) const {
    auto rows = t.reshape({B * L, t.size(-1)});
    return index.defined() ? rows.index_select(0, index) : rows;
  }
  torch::Tensor unpack(const torch::Tensor& t) const {
    if (!index.defined()) return t.view({B, L, t.size(-1)});
    return torch::zeros({B * L, t.size(-1)}, t.options()).index_copy(0, index, t).view({B, L, t.size(-1)});
  }
};

}  // namespace

// Padded positions are never computed: every per-token operation runs on the packed real tokens, attention on the
// unpacked batch. HF computes them, but nothing reads them (the decoder masks them out), so this encoder returns 0
// there; every real position, logit, loss and gradient is HF's.
torch::Tensor P5Model::encode(const torch::Tensor& token_embeds, const torch::Tensor& attention_mask,
                              const std::optional<torch::Tensor>& whole_word_ids) const {
  const Packing p(attention_mask);
  const int64_t B = token_embeds.size(0), L = token_embeds.size(1), H = config_.num_heads, dk = config_.d_kv;
  auto h = p.pack(token_embeds);  // [N, D]
  if (config_.whole_word_embeddings && whole_word_ids)
    h = h + torch::embedding(whole_word_, p.pack(whole_word_ids->unsqueeze(-1)).squeeze(-1));
  h = dropout(h);
  auto bias = position_bias(encoder_bias_, L, L, true).to(h.scalar_type()) +
              additive_mask(attention_mask, kSelfMask, h.scalar_type());
  auto heads = [&](const torch::Tensor& t) { return p.unpack(t).view({B, L, H, dk}).transpose(1, 2); };
  for (const auto& b : encoder_) {
    auto n = rms_norm(h, b.self_norm);
    const KV kv{heads(dense(n, b.self.k)), heads(dense(n, b.self.v)), L};
    auto context = attention(heads(dense(n, b.self.q)), kv, bias).transpose(1, 2).reshape({B, L, -1});
    h = h + dropout(dense(p.pack(context), b.self.o));
    h = h + dropout(feed_forward(b.ff, rms_norm(h, b.ff_norm)));
  }
  return p.unpack(dropout(rms_norm(h, encoder_norm_)));
}

torch::Tensor P5Model::decode(const torch::Tensor& decoder_input_ids, const torch::Tensor& encoder_hidden,
                              const torch::Tensor& attention_mask) const {
  auto h = dropout(embed(decoder_input_ids));
  const int64_t T = h.size(1);
  auto causal = torch::ones({T, T}, torch::TensorOptions().device(device_)).tril();
  auto self_bias = position_bias(decoder_bias_, T, T, false).to(h.scalar_type()) +
                   (1.0 - causal).mul(kSelfMask).to(h.scalar_type()).view({1, 1, T, T});
  auto cross_bias = additive_mask(attention_mask, kCrossMask, h.scalar_type());
  for (const auto& b : decoder_) {
    auto n = rms_norm(h, b.self_norm);
    h = h + dropout(attend(b.self, n, project_kv(b.self, n), self_bias));
    h = h + dropout(attend(b.cross, rms_norm(h, b.cross_norm), project_kv(b.cross, encoder_hidden), cross_bias));
    h = h + dropout(feed_forward(b.ff, rms_norm(h, b.ff_norm)));
  }
  return dropout(rms_norm(h, decoder_norm_));
}

torch::Tensor P5Model::lm_head(const torch::Tensor& hidden) const {
  if (!config_.tie_word_embeddings) return dense(hidden, head_);
  // Tied embeddings: T5 rescales the decoder output by d_model^-0.5 before the shared projection.
  return dense(hidden * std::pow(static_cast<double>(config_.d_model), -0.5), head_);
}

DecoderCache P5Model::start_cache(const torch::Tensor& encoder_hidden, const torch::Tensor& attention_mask,
                                  int64_t capacity) const {
  DecoderCache cache;
  const int64_t B = encoder_hidden.size(0), H = config_.num_heads, dk = config_.d_kv;
  for (const auto& b : decoder_) {
    auto kv = project_kv(b.cross, encoder_hidden);
    cache.cross.push_back({kv.k.contiguous(), kv.v.contiguous(), kv.len});
    auto empty = torch::empty({B, H, capacity, dk}, encoder_hidden.options());
    cache.self.push_back({empty, torch::empty_like(empty), 0});
  }
  cache.cross_bias = additive_mask(attention_mask, kCrossMask, encoder_hidden.scalar_type());
  return cache;
}

torch::Tensor P5Model::decode_step(const torch::Tensor& ids, int64_t step, DecoderCache& cache) const {
  auto h = embed(ids);  // [R, 1, D]
  auto self_bias = position_bias(decoder_bias_, 1, step + 1, false, step).to(h.scalar_type());
  for (size_t i = 0; i < decoder_.size(); ++i) {
    const auto& b = decoder_[i];
    auto& kv = cache.self[i];
    if (step >= kv.k.size(2)) throw std::logic_error("decode_step: position beyond the cache's capacity");
    auto n = rms_norm(h, b.self_norm);
    auto fresh = project_kv(b.self, n);
    kv.k.narrow(2, step, 1).copy_(fresh.k);
    kv.v.narrow(2, step, 1).copy_(fresh.v);
    kv.len = step + 1;
    h = h + attend(b.self, n, kv, self_bias);
    h = h + attend(b.cross, rms_norm(h, b.cross_norm), cache.cross[i], cache.cross_bias);
    h = h + feed_forward(b.ff, rms_norm(h, b.ff_norm));
  }
  return lm_head(rms_norm(h, decoder_norm_)).squeeze(1);
}

void P5Model::select_rows(DecoderCache& cache, const torch::Tensor& rows, const std::optional<torch::Tensor>& examples) {
  for (auto& kv : cache.self) {
    kv.k = kv.k.index_select(0, rows);
    kv.v = kv.v.index_select(0, rows);
  }
  if (!examples) return;
  for (auto& kv : cache.cross) {
    kv.k = kv.k.index_select(0, *examples);
    kv.v = kv.v.index_select(0, *examples);
  }
  cache.cross_bias = cache.cross_bias.index_select(0, *examples);
}

}  // namespace paprec
