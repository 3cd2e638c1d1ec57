#include "bind/convert.h"

#include <stdexcept>

namespace paprec {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// The first element of `t` outside [lo, hi), reported as "what[row][col] = v".
void check_range(const torch::Tensor& t, int64_t lo, int64_t hi, const std::string& what, int64_t allow = INT64_MIN) {
  auto bad = (t < lo) | (t >= hi);
  if (allow != INT64_MIN) bad = bad & (t != allow);
  if (!bad.any().item<bool>()) return;
  auto at = bad.flatten().nonzero()[0][0].item<int64_t>();
  const int64_t cols = t.dim() > 1 ? t.size(1) : 1;
  const int64_t v = t.flatten()[at].item<int64_t>();
  throw std::invalid_argument(what + "[" + std::to_string(at / cols) + "][" + std::to_string(at % cols) +
                              "] = " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + ")");
}

}  // namespace

torch::Tensor int_tensor(const Napi::Value& value, const std::string& what, std::vector<int64_t> shape) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw std::invalid_argument(what + ": expected an Int32Array");
  auto a = value.As<Napi::Int32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != numel(shape))
    throw std::invalid_argument(what + ": " + std::to_string(a.ElementLength()) + " elements, expected " +
                                std::to_string(numel(shape)) + " for shape " + shape_text(shape));
  return torch::from_blob(a.Data(), shape, torch::kInt32).to(torch::kLong);
}

torch::Tensor float_tensor(const Napi::Value& value, const std::string& what, std::vector<int64_t> shape) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw std::invalid_argument(what + ": expected a Float32Array");
  auto a = value.As<Napi::Float32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != numel(shape))
    throw std::invalid_argument(what + ": " + std::to_string(a.ElementLength()) + " elements, expected " +
                                std::to_string(numel(shape)) + " for shape " + shape_text(shape));
  return torch::from_blob(a.Data(), shape, torch::kFloat32).clone();
}

Napi::Float32Array to_float32_array(Napi::Env env, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  auto out = Napi::Float32Array::New(env, c.numel());
  std::memcpy(out.Data(), c.data_ptr<float>(), c.numel() * sizeof(float));
  return out;
}

Napi::Int32Array to_int32_array(Napi::Env env, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kInt32).contiguous();
  auto out = Napi::Int32Array::New(env, c.numel());
  std::memcpy(out.Data(), c.data_ptr<int32_t>(), c.numel() * sizeof(int32_t));
  return out;
}

int64_t get_int(const Napi::Object& o, const char* key, int64_t fallback) {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw std::invalid_argument(std::string(key) + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) throw std::invalid_argument(std::string(key) + ": expected an integer");
  return static_cast<int64_t>(d);
}

int64_t require_int(const Napi::Object& o, const char* key, const std::string& what) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) throw std::invalid_argument(what + ": missing " + key);
  return get_int(o, key, 0);
}

double get_number(const Napi::Object& o, const char* key, double fallback) {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw std::invalid_argument(std::string(key) + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool get_bool(const Napi::Object& o, const char* key, bool fallback) {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return v.ToBoolean().Value();
}

std::string get_string(const Napi::Object& o, const char* key, const std::string& fallback) {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw std::invalid_argument(std::string(key) + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

P5Config read_config(const Napi::Object& o) {
  P5Config c;
  c.vocab_size = get_int(o, "vocabSize", c.vocab_size);
  c.d_model = get_int(o, "dModel", c.d_model);
  c.d_kv = get_int(o, "dKv", c.d_kv);
  c.d_ff = get_int(o, "dFf", c.d_ff);
  c.num_heads = get_int(o, "numHeads", c.num_heads);
  c.num_layers = get_int(o, "numLayers", c.num_layers);
  c.num_decoder_layers = get_int(o, "numDecoderLayers", c.num_layers);
  c.num_buckets = get_int(o, "relativeAttentionNumBuckets", c.num_buckets);
  c.max_distance = get_int(o, "relativeAttentionMaxDistance", c.max_distance);
  c.layer_norm_eps = get_number(o, "layerNormEpsilon", c.layer_norm_eps);
  c.dropout = get_number(o, "dropoutRate", c.dropout);
  c.whole_word_embeddings = get_bool(o, "wholeWordEmbeddings", c.whole_word_embeddings);
  c.whole_word_size = get_int(o, "wholeWordSize", c.whole_word_size);
  // HF's feed_forward_proj: "relu", or "gated-" + an activation; "gated-gelu" means GELU's tanh form (gelu_new).
  const auto ff = get_string(o, "feedForwardProj", "relu");
  c.gated = ff.rfind("gated-", 0) == 0;
  const auto act = c.gated ? ff.substr(6) : ff;
  if (act == "relu") c.activation = Activation::kRelu;
  else if (act == "gelu_new" || (c.gated && act == "gelu")) c.activation = Activation::kGeluTanh;
  else throw std::invalid_argument("feedForwardProj '" + ff + "': paprec implements relu, gated-relu, gated-gelu and gelu_new");
  c.tie_word_embeddings = get_bool(o, "tieWordEmbeddings", c.tie_word_embeddings);
  return c;
}

Napi::Object write_config(Napi::Env env, const P5Config& c) {
  auto o = Napi::Object::New(env);
  o.Set("vocabSize", c.vocab_size);
  o.Set("dModel", c.d_model);
  o.Set("dKv", c.d_kv);
  o.Set("dFf", c.d_ff);
  o.Set("numHeads", c.num_heads);
  o.Set("numLayers", c.num_layers);
  o.Set("numDecoderLayers", c.num_decoder_layers);
  o.Set("relativeAttentionNumBuckets", c.num_buckets);
  o.Set("relativeAttentionMaxDistance", c.max_distance);
  o.Set("layerNormEpsilon", c.layer_norm_eps);
  o.Set("dropoutRate", c.dropout);
  o.Set("wholeWordEmbeddings", c.whole_word_embeddings);
  o.Set("wholeWordSize", c.whole_word_size);
  const std::string act = c.activation == Activation::kGeluTanh ? (c.gated ? "gelu" : "gelu_new") : "relu";
  o.Set("feedForwardProj", (c.gated ? "gated-" : "") + act);
  o.Set("tieWordEmbeddings", c.tie_word_embeddings);
  return o;
}

Batch read_batch(const Napi::Object& o, const P5Config& config, const torch::Device& device, bool need_labels) {
  const int64_t B = require_int(o, "batchSize", "batch"), L = require_int(o, "sourceLength", "batch");
  if (B <= 0 || L <= 0) throw std::invalid_argument("batch: batchSize and sourceLength must be positive");
  Batch b;
  b.input_ids = int_tensor(o.Get("inputIds"), "inputIds", {B, L});
  check_range(b.input_ids, 0, config.vocab_size, "inputIds");
  b.attention_mask = int_tensor(o.Get("attentionMask"), "attentionMask", {B, L});
  check_range(b.attention_mask, 0, 2, "attentionMask");
  if (o.Has("wholeWordIds") && !o.Get("wholeWordIds").IsUndefined() && !o.Get("wholeWordIds").IsNull()) {
    b.whole_word_ids = int_tensor(o.Get("wholeWordIds"), "wholeWordIds", {B, L});
    check_range(b.whole_word_ids, 0, config.whole_word_size, "wholeWordIds");
  }
  if (need_labels) {
    const int64_t T = require_int(o, "targetLength", "batch");
    if (T <= 0) throw std::invalid_argument("batch: targetLength must be positive");
    b.labels = int_tensor(o.Get("labels"), "labels", {B, T});
    check_range(b.labels, 0, config.vocab_size, "labels", -100);
    b.labels = b.labels.to(device);
  }
  b.input_ids = b.input_ids.to(device);
  b.attention_mask = b.attention_mask.to(device);
  if (b.whole_word_ids.defined()) b.whole_word_ids = b.whole_word_ids.to(device);
  return b;
}

Rows read_rows(const Napi::Object& o, const std::string& what) {
  auto ints = [&](const char* key) {
    auto v = o.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw std::invalid_argument(what + ": " + key + " must be an Int32Array");
    auto a = v.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
  };
  return {ints("inputIds"), ints("inputOffsets"), ints("wholeWordIds"), ints("targetIds"), ints("targetOffsets")};
}

}  // namespace paprec
