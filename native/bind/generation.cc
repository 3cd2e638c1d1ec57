// Generation, resident example sets, slot gradients: `generate`, `generateNaive`, `topCandidates`,
// `defaultStreams`, and the class `NativeExampleSet` (generation_set.cc).
#include <napi.h>

#include "bind/async.h"
#include "bind/backbone.h"
#include "bind/constraint.h"
#include "bind/convert.h"
#include "bind/generation_common.h"
#include "bind/register.h"
#include "engine/generate.h"
#include "engine/shards.h"
#include "engine/slots.h"
#include "engine/soft_prompt.h"

namespace paprec {

std::vector<int64_t> int_vector(const Napi::Value& v, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw std::invalid_argument(what + ": expected an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

torch::Tensor int_vector_tensor(const Napi::Value& v, const std::string& what) {
  auto vec = int_vector(v, what);
  return torch::tensor(vec, torch::kLong);
}

GenerateOptions read_generate_options(const Napi::Object& o) {
  GenerateOptions g;
  g.num_beams = get_int(o, "numBeams", 1);
  g.num_return_sequences = get_int(o, "numReturnSequences", 1);
  g.max_length = get_int(o, "maxLength", 20);
  g.min_length = get_int(o, "minLength", 0);
  g.early_stopping = get_bool(o, "earlyStopping", false);
  g.length_penalty = get_number(o, "lengthPenalty", 1.0);
  g.vocab_limit = get_int(o, "vocabLimit", 0);
  if (g.vocab_limit < 0) throw std::invalid_argument("generate: vocabLimit must be >= 0, got " + std::to_string(g.vocab_limit));
  check_generate_options(g);
  return g;
}

namespace {

Napi::Object generate_result(Napi::Env env, GenerateResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("sequences", to_int32_array(env, r.sequences));
  o.Set("rows", static_cast<double>(r.sequences.size(0)));
  o.Set("length", static_cast<double>(r.sequences.size(1)));
  o.Set("scores", r.scores.defined() ? Napi::Value(to_float32_array(env, r.scores)) : env.Null());
  if (r.chosen_logits.defined()) o.Set("chosenLogits", to_float32_array(env, r.chosen_logits));
  return o;
}

// generate(backbone, batch, options) / generateNaive(...) -> Promise<{sequences, rows, length, scores, chosenLogits?}>
Napi::Value Generate(const Napi::CallbackInfo& info, bool naive) {
  auto env = info.Env();
  if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsObject())
    throw Napi::TypeError::New(env, "generate(backbone, batch, options)");
  auto state = NativeBackbone::StateOf(info[0]);
  auto [batch, opts] = guard(env, [&] {
    auto batch = read_batch(info[1].As<Napi::Object>(), state->model.config(), state->model.device(), false);
    auto opts = read_generate_options(info[2].As<Napi::Object>());
    opts.constraint = read_constraint(info[2].As<Napi::Object>(), batch.input_ids.size(0), state->model.config().vocab_size);
    if (naive && opts.constraint) throw std::invalid_argument("generateNaive: constrained decoding is not supported");
    return std::make_pair(batch, opts);
  });
  return run_on_model<GenerateResult>(
      env, state,
      [state, batch, opts, naive] {
        EvalMode eval(state->model);
        return naive ? generate_naive(state->model, batch.input_ids, batch.attention_mask, batch.whole_words(), opts)
                     : generate(state->model, batch.input_ids, batch.attention_mask, batch.whole_words(), opts);
      },
      [](Napi::Env env, GenerateResult& r) -> Napi::Value { return generate_result(env, r); });
}

// topCandidates(backbone, gradients: Float32Array [rows*dModel], rows, k, mask: Uint8Array [vocab], chunkElements?)
//   -> Promise<{ids: Int32Array [rows*k], scores: Float32Array [rows*k]}>
Napi::Value TopCandidates(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.Length() < 5) throw Napi::TypeError::New(env, "topCandidates(backbone, gradients, rows, k, mask)");
  auto state = NativeBackbone::StateOf(info[0]);
  const int64_t D = state->model.config().d_model;
  auto [grads, k, mask, chunk] = guard(env, [&] {
    if (!info[2].IsNumber() || !info[3].IsNumber()) throw std::invalid_argument("topCandidates: rows and k must be numbers");
    const int64_t rows = info[2].As<Napi::Number>().Int64Value(), k = info[3].As<Napi::Number>().Int64Value();
    if (rows < 0) throw std::invalid_argument("topCandidates: rows must be >= 0");
    auto g = float_tensor(info[1], "topCandidates gradients", {rows, D});
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw std::invalid_argument("topCandidates: mask must be a Uint8Array");
    auto m = info[4].As<Napi::Uint8Array>();
    auto mask = torch::from_blob(m.Data(), {static_cast<int64_t>(m.ElementLength())}, torch::kUInt8).clone();
    const int64_t chunk = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int64Value() : (16 << 20);
    return std::make_tuple(g, k, mask, chunk);
  });
  return run_on_model<Candidates>(
      env, state,
      [state, grads, k, mask, chunk] {
        return top_candidates(state->model, grads, k, mask, {}, chunk);
      },
      [](Napi::Env env, Candidates& c) -> Napi::Value {
        auto o = Napi::Object::New(env);
        o.Set("ids", to_int32_array(env, c.ids));
        o.Set("scores", to_float32_array(env, c.scores));
        return o;
      });
}

// projectSoftPrompt(backbone, embeddings: Float32Array [rows*dModel], rows, mask: Uint8Array [vocab])
//   -> Promise<Int32Array [rows]>: the nearest allowed token of each row by L2 distance (engine/soft_prompt.h)
Napi::Value ProjectSoftPrompt(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.Length() < 4) throw Napi::TypeError::New(env, "projectSoftPrompt(backbone, embeddings, rows, mask)");
  auto state = NativeBackbone::StateOf(info[0]);
  const int64_t D = state->model.config().d_model;
  auto [x, mask] = guard(env, [&] {
    if (!info[2].IsNumber()) throw std::invalid_argument("projectSoftPrompt: rows must be a number");
    const int64_t rows = info[2].As<Napi::Number>().Int64Value();
    if (rows < 1) throw std::invalid_argument("projectSoftPrompt: rows must be >= 1");
    auto x = float_tensor(info[1], "projectSoftPrompt embeddings", {rows, D});
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw std::invalid_argument("projectSoftPrompt: mask must be a Uint8Array");
    auto m = info[3].As<Napi::Uint8Array>();
    return std::make_pair(x, torch::from_blob(m.Data(), {static_cast<int64_t>(m.ElementLength())}, torch::kUInt8).clone());
  });
  return run_on_model<torch::Tensor>(
      env, state,
      [state, x, mask] {
        return project_soft_prompt(state->model, x, mask);
      },
      [](Napi::Env env, torch::Tensor& ids) -> Napi::Value { return to_int32_array(env, ids); });
}

Napi::Value DefaultStreams(const Napi::CallbackInfo& info) {
  auto state = NativeBackbone::StateOf(info[0]);
  return Napi::Number::New(info.Env(), static_cast<double>(default_shards(state->model.device())));
}

}  // namespace

void register_generation(Napi::Env env, Napi::Object exports) {
  exports.Set("generate", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Generate(i, false); }));
  exports.Set("generateNaive", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Generate(i, true); }));
  exports.Set("topCandidates", Napi::Function::New(env, TopCandidates));
  exports.Set("defaultStreams", Napi::Function::New(env, DefaultStreams));
  exports.Set("projectSoftPrompt", Napi::Function::New(env, ProjectSoftPrompt));
  exports.Set("constrainedDecoding", Napi::Boolean::New(env, true));  // generate reads options.constraint
  register_example_set(env, exports);
}

}  // namespace paprec
