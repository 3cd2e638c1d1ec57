// The JS classes `NativeTrainSet` (training rows copied and validated once, for any number of epochs and loss
// passes) and `NativeTrainer`: AdamW training of one NativeBackbone over a NativeTrainSet.
// runEpoch runs a whole epoch in one async call and reports every step through a thread-safe function, so the
// CPU stays busy while JS draws the progress bar and can ask it to stop (Ctrl-C) between steps.
#include <napi.h>

#include <atomic>
#include <memory>

#include "bind/async.h"
#include "bind/backbone.h"
#include "bind/convert.h"
#include "bind/dist.h"
#include "bind/register.h"
#include "engine/train.h"

namespace paprec {
namespace {

struct TrainerState {
  std::shared_ptr<BackboneState> backbone;
  std::unique_ptr<Trainer> trainer;
  std::atomic<bool> stop{false};
};

Napi::Object progress_object(Napi::Env env, const StepProgress& p) {
  auto o = Napi::Object::New(env);
  o.Set("step", static_cast<double>(p.step));
  o.Set("batch", static_cast<double>(p.batch));
  o.Set("batches", static_cast<double>(p.batches));
  o.Set("examples", static_cast<double>(p.examples));
  o.Set("loss", p.loss);
  o.Set("meanLoss", p.mean_loss);
  o.Set("examplesPerSecond", p.examples_per_second);
  o.Set("lr", p.lr);
  o.Set("gradNorm", p.grad_norm);
  return o;
}

std::vector<torch::Tensor> float_list(const Napi::Value& v, const std::string& what, const P5Model& model) {
  if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of Float32Array");
  auto a = v.As<Napi::Array>();
  const auto names = model.names();
  if (a.Length() != names.size())
    throw std::invalid_argument(what + ": " + std::to_string(a.Length()) + " tensors, the model has " +
                                std::to_string(names.size()));
  std::vector<torch::Tensor> out;
  for (uint32_t i = 0; i < a.Length(); ++i)
    out.push_back(float_tensor(a.Get(i), what + " " + names[i], model.expected_shape(names[i])));
  return out;
}

}  // namespace

// new NativeTrainSet(backbone, rows): the rows validated against the backbone's config; size() rows.
class NativeTrainSet : public Napi::ObjectWrap<NativeTrainSet> {
 public:
  static Napi::Function Define(Napi::Env env) {
    auto fn = DefineClass(env, "NativeTrainSet", {InstanceMethod("size", &NativeTrainSet::Size)});
    constructor_ = new Napi::FunctionReference(Napi::Persistent(fn));
    return fn;
  }

  explicit NativeTrainSet(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTrainSet>(info) {
    auto env = info.Env();
    if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "NativeTrainSet(backbone, rows)");
    auto backbone = NativeBackbone::StateOf(info[0]);
    guard(env, [&] {
      auto rows = std::make_shared<Rows>(read_rows(info[1].As<Napi::Object>(), "training data"));
      rows->validate(backbone->model.config(), "training data");
      rows_ = std::move(rows);
      return 0;
    });
  }

  static std::shared_ptr<const Rows> RowsOf(const Napi::Value& v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(constructor_->Value()))
      throw Napi::TypeError::New(v.Env(), "expected a NativeTrainSet");
    return Unwrap(v.As<Napi::Object>())->rows_;
  }

 private:
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(rows_->size())); }

  std::shared_ptr<const Rows> rows_;
  static Napi::FunctionReference* constructor_;
};

Napi::FunctionReference* NativeTrainSet::constructor_ = nullptr;

class NativeTrainer : public Napi::ObjectWrap<NativeTrainer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTrainer",
                       {InstanceMethod("runEpoch", &NativeTrainer::RunEpoch),
                        InstanceMethod("evaluateLoss", &NativeTrainer::EvaluateLoss),
                        InstanceMethod("stop", &NativeTrainer::Stop),
                        InstanceMethod("clearStop", &NativeTrainer::ClearStop),
                        InstanceMethod("step", &NativeTrainer::Step),
                        InstanceMethod("lrAt", &NativeTrainer::LrAt),
                        InstanceMethod("getState", &NativeTrainer::GetState),
                        InstanceMethod("setState", &NativeTrainer::SetState)});
  }

  // new NativeTrainer(backbone, {lr, weightDecay, beta1, beta2, eps, warmupSteps, totalSteps, clipNorm, seed, bf16,
  //                             rmsScaled, shards, group?: NativeProcessGroup (data-parallel over its ranks)})
  explicit NativeTrainer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTrainer>(info) {
    auto env = info.Env();
    if (info.Length() < 1) throw Napi::TypeError::New(env, "NativeTrainer(backbone, options)");
    auto backbone = NativeBackbone::StateOf(info[0]);
    auto o = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    guard(env, [&] {
      TrainOptions t;
      t.lr = get_number(o, "lr", t.lr);
      t.weight_decay = get_number(o, "weightDecay", t.weight_decay);
      t.beta1 = get_number(o, "beta1", t.beta1);
      t.beta2 = get_number(o, "beta2", t.beta2);
      t.eps = get_number(o, "eps", t.eps);
      t.warmup_steps = get_int(o, "warmupSteps", t.warmup_steps);
      t.total_steps = get_int(o, "totalSteps", t.total_steps);
      t.clip_norm = get_number(o, "clipNorm", t.clip_norm);
      t.seed = static_cast<uint64_t>(get_int(o, "seed", 0));
      t.bf16_autocast = get_bool(o, "bf16", false);
      t.rms_scaled = get_bool(o, "rmsScaled", false);
      t.shards = get_int(o, "shards", 0);
      t.dist = optional_group(o, "group");
      // no lock: the trainer reads only the weights' shapes and devices, which a running call never changes
      state_ = std::make_shared<TrainerState>();
      state_->backbone = backbone;
      state_->trainer = std::make_unique<Trainer>(backbone->model, t);
      return 0;
    });
  }

 private:
  // runEpoch(set: NativeTrainSet, {epoch, batchSize, startBatch?, nanAtStep?}, onProgress?) -> Promise<result>
  Napi::Value RunEpoch(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "runEpoch(set, options, onProgress?)");
    auto state = state_;
    auto data = NativeTrainSet::RowsOf(info[0]);
    auto o = info[1].As<Napi::Object>();
    EpochOptions eo = guard(env, [&] {
      EpochOptions e;
      e.epoch = require_int(o, "epoch", "runEpoch");
      e.batch_size = require_int(o, "batchSize", "runEpoch");
      e.start_batch = get_int(o, "startBatch", 0);
      e.nan_at_step = get_int(o, "nanAtStep", -1);
      if (e.batch_size <= 0) throw std::invalid_argument("runEpoch: batchSize must be positive");
      return e;
    });
    std::shared_ptr<Napi::ThreadSafeFunction> tsfn;
    if (info.Length() > 2 && info[2].IsFunction())
      tsfn = std::make_shared<Napi::ThreadSafeFunction>(
          Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "paprec-train-progress", 0, 1));
    return run_on_model<EpochResult>(
        env, state->backbone,
        [state, data, eo, tsfn] {
          struct Release {
            std::shared_ptr<Napi::ThreadSafeFunction> f;
            ~Release() { if (f) f->Release(); }
          } release{tsfn};
          std::function<void(const StepProgress&)> report;
          if (tsfn)
            report = [tsfn](const StepProgress& p) {
              auto* copy = new StepProgress(p);
              auto status = tsfn->NonBlockingCall(copy, [](Napi::Env env, Napi::Function fn, StepProgress* p) {
                std::unique_ptr<StepProgress> owned(p);
                try {
                  fn.Call({progress_object(env, *owned)});
                } catch (const Napi::Error&) {
                  // a throwing progress callback must not abort training
                }
              });
              if (status != napi_ok) delete copy;
            };
          return state->trainer->run_epoch(*data, eo, state->stop, report);
        },
        [](Napi::Env env, EpochResult& r) -> Napi::Value {
          auto o = progress_object(env, r.last);
          o.Set("stopped", r.stopped);
          o.Set("nonFinite", r.non_finite);
          o.Set("nonFiniteStep", static_cast<double>(r.non_finite_step));
          return o;
        });
  }

  // evaluateLoss(set: NativeTrainSet, batchSize) -> Promise<Float32Array> per-example loss, dropout off, in data order
  Napi::Value EvaluateLoss(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto state = state_;
    auto data = NativeTrainSet::RowsOf(info[0]);
    const int64_t batch = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int64Value() : 64;
    if (batch <= 0) throw Napi::TypeError::New(env, "evaluateLoss: batchSize must be positive");
    return run_on_model<torch::Tensor>(
        env, state->backbone,
        [state, data, batch] {
          return state->trainer->evaluate_loss(*data, batch);
        },
        [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return to_float32_array(env, t); });
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    state_->stop = true;
    return info.Env().Undefined();
  }

  Napi::Value ClearStop(const Napi::CallbackInfo& info) {
    state_->stop = false;
    return info.Env().Undefined();
  }

  // An atomic, read without the model's lock while an epoch runs.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->trainer->step()));
  }

  Napi::Value LrAt(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "lrAt(step)");
    return Napi::Number::New(info.Env(), state_->trainer->lr_at(info[0].As<Napi::Number>().Int64Value()));
  }

  // getState() -> Promise<{step, names, expAvg: Float32Array[], expAvgSq: Float32Array[]}>
  Napi::Value GetState(const Napi::CallbackInfo& info) {
    auto state = state_;
    struct Out {
      int64_t step;
      std::vector<std::string> names;
      std::vector<AdamMoments> moments;
    };
    return run_on_model<Out>(
        info.Env(), state->backbone,
        [state] {
          Out out{state->trainer->step(), state->trainer->names(), {}};
          for (const auto& m : state->trainer->moments())
            out.moments.push_back({m.exp_avg.detach().to(torch::kCPU, torch::kFloat32).contiguous(),
                                   m.exp_avg_sq.detach().to(torch::kCPU, torch::kFloat32).contiguous()});
          return out;
        },
        [](Napi::Env env, Out& out) -> Napi::Value {
          auto o = Napi::Object::New(env);
          auto names = Napi::Array::New(env, out.names.size());
          auto avg = Napi::Array::New(env, out.names.size());
          auto sq = Napi::Array::New(env, out.names.size());
          for (size_t i = 0; i < out.names.size(); ++i) {
            names.Set(i, out.names[i]);
            avg.Set(i, to_float32_array(env, out.moments[i].exp_avg));
            sq.Set(i, to_float32_array(env, out.moments[i].exp_avg_sq));
          }
          o.Set("step", static_cast<double>(out.step));
          o.Set("names", names);
          o.Set("expAvg", avg);
          o.Set("expAvgSq", sq);
          return o;
        });
  }

  // setState({step, expAvg, expAvgSq}): arrays in the model's names() order
  Napi::Value SetState(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setState({step, expAvg, expAvgSq})");
    auto o = info[0].As<Napi::Object>();
    guard(env, [&] {
      auto lock = hold_now(*state_->backbone, "setState");
      const auto& model = state_->backbone->model;
      auto avg = float_list(o.Get("expAvg"), "optimizer expAvg", model);
      auto sq = float_list(o.Get("expAvgSq"), "optimizer expAvgSq", model);
      std::vector<AdamMoments> moments;
      for (size_t i = 0; i < avg.size(); ++i) moments.push_back({avg[i], sq[i]});
      state_->trainer->set_state(require_int(o, "step", "optimizer state"), std::move(moments));
      return 0;
    });
    return env.Undefined();
  }

  std::shared_ptr<TrainerState> state_;
};

void register_training(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTrainer", NativeTrainer::Define(env));
  exports.Set("NativeTrainSet", NativeTrainSet::Define(env));
}

}  // namespace paprec
