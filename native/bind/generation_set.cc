// The JS class `NativeExampleSet`: an example set resident on a backbone's device.
//   new NativeExampleSet(backbone, exampleSet, {batchSize?, streams?})   batchSize default: CUDA 128, CPU 32
//   evaluate(assignments, options) -> Promise<Int32Array>   (ranks [k*size] or ids [k*size*(maxLength-1)])
//   loss(assignments, {streams?}) -> Promise<Float32Array [k*size]>
//   slotGradients(assignment, {perUser?, sample?, seed?, rows?, reduce?, streams?}) -> Promise<{...}>
//   candidates(assignment, {k, perUser?, sample?, seed?, rows?, reduce?, streams?}) -> Promise<{task, user?, ...}>
//     rows: Int32Array, only these examples; reduce: a NativeProcessGroup, task-slot sums over its ranks
//   sampleRows(n, sample, seed) -> Int32Array: the examples a seeded sample of the gradient pass takes
//     (needs options.slotMask at construction: uploaded once with the set)
//   trainSoftPrompt(assignment, {steps, lr, batchSize, seed?, streams?}) -> Promise<{embeddings, losses}>
// An assignment is {taskTokens, userTokens?, slotEmbeddings?: Float32Array [numTaskSlots * dModel]}.
// Every call holds the backbone's mutex for its whole duration and runs the model in eval mode.
#include <napi.h>

#include <memory>

#include "bind/async.h"
#include "bind/backbone.h"
#include "bind/convert.h"
#include "bind/dist.h"
#include "bind/generation_common.h"
#include "engine/example_set.h"
#include "engine/shards.h"
#include "engine/slots.h"
#include "engine/soft_prompt.h"

namespace paprec {
namespace {

struct SetState {
  std::shared_ptr<BackboneState> backbone;
  std::shared_ptr<ResidentSet> set;
  int64_t streams = 1;
  torch::Tensor slot_mask;  // uint8 [V] on the device (1 = allowed in a slot); undefined: no candidates()
};

ExampleSetData read_example_set(const Napi::Object& o) {
  ExampleSetData d;
  d.rows = read_rows(o, "example set");
  d.size = require_int(o, "size", "example set");
  d.num_task_slots = require_int(o, "numTaskSlots", "example set");
  d.has_user_slot = get_bool(o, "hasUserSlot", false);
  d.slot_positions = int_vector(o.Get("slotPositions"), "example set slotPositions");
  d.user_index = int_vector(o.Get("userIndex"), "example set userIndex");
  d.num_users = get_int(o, "numUsers", 0);
  return d;
}

// {task, user?, userCounts?, loss, examples}: what slotGradients (float rows) and candidates (ids) return.
template <typename ToArray>
Napi::Object slot_result(Napi::Env env, ToArray to_array, const torch::Tensor& task, const torch::Tensor& user,
                         const torch::Tensor& user_counts, double loss, int64_t examples) {
  auto o = Napi::Object::New(env);
  o.Set("task", to_array(env, task));
  if (user.defined()) {
    o.Set("user", to_array(env, user));
    o.Set("userCounts", to_int32_array(env, user_counts));
  }
  o.Set("loss", loss);
  o.Set("examples", static_cast<double>(examples));
  return o;
}

class NativeExampleSet : public Napi::ObjectWrap<NativeExampleSet> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeExampleSet",
                       {InstanceMethod("size", &NativeExampleSet::Size),
                        InstanceMethod("numBatches", &NativeExampleSet::NumBatches),
                        InstanceMethod("streams", &NativeExampleSet::Streams),
                        InstanceMethod("evaluate", &NativeExampleSet::Evaluate),
                        InstanceMethod("loss", &NativeExampleSet::Loss),
                        InstanceMethod("slotGradients", &NativeExampleSet::SlotGradientsJs),
                        InstanceMethod("candidates", &NativeExampleSet::CandidatesJs),
                        InstanceMethod("trainSoftPrompt", &NativeExampleSet::TrainSoftPromptJs),
                        InstanceMethod("dispose", &NativeExampleSet::Dispose)});
  }

  explicit NativeExampleSet(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeExampleSet>(info) {
    auto env = info.Env();
    if (info.Length() < 2 || !info[1].IsObject())
      throw Napi::TypeError::New(env, "NativeExampleSet(backbone, exampleSet, options)");
    auto backbone = NativeBackbone::StateOf(info[0]);
    auto opts = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    guard(env, [&] {
      const auto& model = backbone->model;
      auto data = read_example_set(info[1].As<Napi::Object>());
      auto set = std::make_shared<ResidentSet>(std::move(data), model.config(), model.device(),
                                               get_int(opts, "batchSize", model.device().is_cuda() ? 128 : 32));
      const int64_t batches = static_cast<int64_t>(set->batches().size());
      int64_t streams = get_int(opts, "streams", 0);
      if (streams == 0) streams = std::min(default_shards(model.device()), batches);
      if (streams < 1 || streams > batches)
        throw std::invalid_argument("streams = " + std::to_string(streams) + ": must be in [1, " +
                                    std::to_string(batches) + "] (the set has " + std::to_string(batches) +
                                    " batches; more streams than work)");
      torch::Tensor mask;
      auto m = opts.Get("slotMask");
      if (!m.IsUndefined() && !m.IsNull()) {
        if (!m.IsTypedArray() || m.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
          throw std::invalid_argument("example set: slotMask must be a Uint8Array");
        auto a = m.As<Napi::Uint8Array>();
        if (static_cast<int64_t>(a.ElementLength()) != model.config().vocab_size)
          throw std::invalid_argument("example set: the slot mask has " + std::to_string(a.ElementLength()) +
                                      " entries, the vocabulary " + std::to_string(model.config().vocab_size));
        mask = torch::from_blob(a.Data(), {static_cast<int64_t>(a.ElementLength())}, torch::kUInt8).clone().to(model.device());
      }
      state_ = std::make_shared<SetState>(SetState{backbone, set, streams, mask});
      return 0;
    });
  }

 private:
  std::shared_ptr<SetState> live(Napi::Env env) const {
    if (!state_) throw Napi::Error::New(env, "this example set has been disposed");
    return state_;
  }

  int64_t streams_of(const Napi::Object& opts) const { return get_int(opts, "streams", state_->streams); }

  std::vector<Assignment> read_assignments(const Napi::Value& v) const {
    if (!v.IsArray()) throw std::invalid_argument("assignments: expected an array of {taskTokens, userTokens?}");
    auto arr = v.As<Napi::Array>();
    if (arr.Length() == 0) throw std::invalid_argument("assignments: the list is empty");
    std::vector<Assignment> out;
    for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(read_assignment(arr.Get(i), i));
    return out;
  }

  Assignment read_assignment(const Napi::Value& v, uint32_t i) const {
    const std::string what = "assignments[" + std::to_string(i) + "]";
    if (!v.IsObject()) throw std::invalid_argument(what + ": expected {taskTokens, userTokens?}");
    auto o = v.As<Napi::Object>();
    Assignment a;
    a.task = int_vector_tensor(o.Get("taskTokens"), what + ".taskTokens");
    auto user = o.Get("userTokens");
    if (!user.IsUndefined() && !user.IsNull()) a.user = int_vector_tensor(user, what + ".userTokens");
    auto soft = o.Get("slotEmbeddings");
    const auto& config = state_->backbone->model.config();
    if (!soft.IsUndefined() && !soft.IsNull()) {
      if (!soft.IsTypedArray() || soft.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw std::invalid_argument(what + ".slotEmbeddings: expected a Float32Array");
      const int64_t n = static_cast<int64_t>(soft.As<Napi::Float32Array>().ElementLength());
      const int64_t S = state_->set->data().num_task_slots, D = config.d_model;
      if (n != S * D)
        throw std::invalid_argument(what + ".slotEmbeddings: " + std::to_string(n) + " values, expected numTaskSlots x dModel = " +
                                    std::to_string(S) + " x " + std::to_string(D) + " = " + std::to_string(S * D));
      a.slot_embeddings = float_tensor(soft, what + ".slotEmbeddings", {S, D});
    }
    try {
      state_->set->check(a, config);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(what + ": " + e.what());
    }
    return a;
  }

  static Assignment on_device(const Assignment& a, const torch::Device& d) {
    auto to = [&](const torch::Tensor& t) { return t.defined() ? t.to(d) : torch::Tensor(); };
    return {a.task.to(d), to(a.user), to(a.slot_embeddings)};
  }

  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env())->set->size()));
  }
  Napi::Value NumBatches(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env())->set->batches().size()));
  }
  Napi::Value Streams(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env())->streams));
  }

  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto st = live(env);
    if (info.Length() < 1) throw Napi::TypeError::New(env, "evaluate(assignments, options)");
    auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    auto [assignments, eo] = guard(env, [&] {
      EvaluateOptions eo;
      eo.gen = read_generate_options(opts);
      eo.ranking = get_bool(opts, "ranking", true);
      eo.whole_words = get_bool(opts, "wholeWords", true);
      eo.shards = streams_of(opts);
      return std::make_pair(read_assignments(info[0]), eo);
    });
    return run_on_model<torch::Tensor>(
        env, st->backbone,
        [st, assignments, eo] {
          auto& model = st->backbone->model;
          EvalMode eval(model);
          std::vector<torch::Tensor> outs;
          for (const auto& a : assignments) outs.push_back(evaluate(model, *st->set, on_device(a, model.device()), eo));
          return torch::stack(outs);
        },
        [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return to_int32_array(env, t); });
  }

  Napi::Value Loss(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto st = live(env);
    if (info.Length() < 1) throw Napi::TypeError::New(env, "loss(assignments, options)");
    auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    auto [assignments, shards] =
        guard(env, [&] { return std::make_pair(read_assignments(info[0]), streams_of(opts)); });
    return run_on_model<torch::Tensor>(
        env, st->backbone,
        [st, assignments, shards] {
          auto& model = st->backbone->model;
          EvalMode eval(model);
          std::vector<torch::Tensor> outs;
          for (const auto& a : assignments)
            outs.push_back(example_losses(model, *st->set, on_device(a, model.device()), shards));
          return torch::stack(outs);
        },
        [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return to_float32_array(env, t); });
  }

  SlotGradientOptions gradient_options(const Napi::Object& opts, const char* what) const {
    SlotGradientOptions so;
    so.per_user = get_bool(opts, "perUser", false);
    so.sample = get_int(opts, "sample", 0);
    so.seed = static_cast<uint64_t>(get_int(opts, "seed", 0));
    so.shards = streams_of(opts);
    if (so.sample < 0) throw std::invalid_argument(std::string(what) + ": sample must be >= 0");
    auto rows = opts.Get("rows");
    if (!rows.IsUndefined() && !rows.IsNull()) {
      if (so.sample > 0) throw std::invalid_argument(std::string(what) + ": give rows or sample, not both");
      so.use_rows = true;
      so.rows = int_vector(rows, std::string(what) + " rows");
    }
    so.reduce = optional_group(opts, "reduce");
    return so;
  }

  Napi::Value SlotGradientsJs(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto st = live(env);
    if (info.Length() < 1) throw Napi::TypeError::New(env, "slotGradients(assignment, options)");
    auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    auto [assignment, so] = guard(env, [&] {
      return std::make_pair(read_assignment(info[0], 0), gradient_options(opts, "slotGradients"));
    });
    return run_on_model<SlotGradients>(
        env, st->backbone,
        [st, assignment, so] {
          auto& model = st->backbone->model;
          EvalMode eval(model);
          auto g = slot_gradients(model, *st->set, on_device(assignment, model.device()), so);
          g.task = g.task.to(torch::kCPU);
          if (g.user.defined()) g.user = g.user.to(torch::kCPU);
          return g;
        },
        [](Napi::Env env, SlotGradients& g) -> Napi::Value {
          auto o = slot_result(env, to_float32_array, g.task, g.user, g.user_counts, g.loss, g.examples);
          o.Set("taskCounts", to_int32_array(env, g.task_counts));
          return o;
        });
  }

  Napi::Value CandidatesJs(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto st = live(env);
    if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "candidates(assignment, {k, ...})");
    auto opts = info[1].As<Napi::Object>();
    auto [assignment, so, k] = guard(env, [&] {
      if (!st->slot_mask.defined())
        throw std::invalid_argument("candidates: the set was uploaded without a slotMask (the tokens allowed in a slot)");
      return std::make_tuple(read_assignment(info[0], 0), gradient_options(opts, "candidates"),
                             require_int(opts, "k", "candidates"));
    });
    return run_on_model<SlotCandidates>(
        env, st->backbone,
        [st, assignment, so, k] {
          auto& model = st->backbone->model;
          EvalMode eval(model);
          return slot_candidates(model, *st->set, on_device(assignment, model.device()), st->slot_mask, k, so);
        },
        [](Napi::Env env, SlotCandidates& c) -> Napi::Value {
          return slot_result(env, to_int32_array, c.task, c.user, c.user_counts, c.loss, c.examples);
        });
  }

  Napi::Value TrainSoftPromptJs(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto st = live(env);
    if (info.Length() < 2 || !info[1].IsObject())
      throw Napi::TypeError::New(env, "trainSoftPrompt(assignment, {steps, lr, batchSize, seed?})");
    auto opts = info[1].As<Napi::Object>();
    auto [assignment, so] = guard(env, [&] {
      SoftPromptOptions so;
      so.steps = require_int(opts, "steps", "trainSoftPrompt");
      so.lr = get_number(opts, "lr", so.lr);
      so.batch_size = get_int(opts, "batchSize", so.batch_size);
      so.seed = static_cast<uint64_t>(get_int(opts, "seed", 0));
      so.shards = streams_of(opts);  // steps, lr and batchSize are checked by train_soft_prompt
      return std::make_pair(read_assignment(info[0], 0), so);
    });
    return run_on_model<SoftPromptResult>(
        env, st->backbone,
        [st, assignment, so] {
          auto& model = st->backbone->model;
          EvalMode eval(model);
          return train_soft_prompt(model, *st->set, on_device(assignment, model.device()), so);
        },
        [](Napi::Env env, SoftPromptResult& r) -> Napi::Value {
          auto o = Napi::Object::New(env);
          o.Set("embeddings", to_float32_array(env, r.embeddings));
          o.Set("losses", to_float32_array(env, torch::tensor(r.losses, torch::kDouble)));
          return o;
        });
  }

  // Never waits: a running call holds its own reference to the set, freed when it ends.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    state_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<SetState> state_;
};

}  // namespace

// sampleRows(n, sample, seed) -> Int32Array
Napi::Value SampleRows(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "sampleRows(n, sample, seed)");
  const int64_t n = info[0].As<Napi::Number>().Int64Value(), k = info[1].As<Napi::Number>().Int64Value();
  if (n < 0 || k < 0) throw Napi::RangeError::New(env, "sampleRows: n and sample must be >= 0");
  const auto rows = sample_rows(n, k, static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value()));
  return to_int32_array(env, torch::tensor(rows, torch::kLong));
}

void register_example_set(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeExampleSet", NativeExampleSet::Define(env));
  exports.Set("sampleRows", Napi::Function::New(env, SampleRows));
}

}  // namespace paprec
