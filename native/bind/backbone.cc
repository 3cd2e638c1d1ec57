#include "bind/backbone.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "bind/async.h"
#include "bind/convert.h"
#include "engine/device.h"
#include "engine/loss.h"

namespace paprec {

Napi::FunctionReference* NativeBackbone::constructor_ = nullptr;

std::unique_lock<std::mutex> hold_now(BackboneState& s, const std::string& what) {
  std::unique_lock<std::mutex> lock(s.mutex, std::try_to_lock);
  if (!lock.owns_lock())
    throw std::runtime_error(what + ": the model is busy with a running call (calls on one model are queued: await it first)");
  return lock;
}

namespace {

// Where `t` first holds NaN or +-Inf (row-major), as {flat index, value}; flat index -1 when every value is finite.
// One isfinite pass; the position search runs only on a bad tensor.
std::pair<int64_t, double> first_non_finite(const torch::Tensor& t) {
  auto bad = torch::isfinite(t).logical_not_();
  if (!bad.any().item<bool>()) return {-1, 0.0};
  const int64_t flat = bad.reshape({-1}).to(torch::kUInt8).argmax().item<int64_t>();  // first maximum = first bad
  return {flat, t.reshape({-1})[flat].to(torch::kFloat64).item<double>()};
}

// "[i, j]" of a row-major flat index.
std::string index_text(int64_t flat, torch::IntArrayRef sizes) {
  std::vector<int64_t> idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = sizes[d] > 0 ? flat % sizes[d] : 0;
    flat = sizes[d] > 0 ? flat / sizes[d] : 0;
  }
  std::string out = "[";
  for (size_t d = 0; d < idx.size(); ++d) out += (d ? ", " : "") + std::to_string(idx[d]);
  return out + "]";
}

std::string value_text(double v) { return std::isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity"; }

}  // namespace

Napi::Function NativeBackbone::Define(Napi::Env env) {
  auto fn = DefineClass(env, "NativeBackbone",
                        {InstanceMethod("config", &NativeBackbone::Config),
                         InstanceMethod("device", &NativeBackbone::Device),
                         InstanceMethod("dtype", &NativeBackbone::Dtype),
                         InstanceMethod("names", &NativeBackbone::Names),
                         InstanceMethod("shapes", &NativeBackbone::Shapes),
                         InstanceMethod("setParameters", &NativeBackbone::SetParameters),
                         InstanceMethod("getParameters", &NativeBackbone::GetParameters),
                         InstanceMethod("firstNonFinite", &NativeBackbone::FirstNonFinite),
                         InstanceMethod("forward", &NativeBackbone::Forward),
                         InstanceMethod("inputGradients", &NativeBackbone::InputGradients),
                         InstanceMethod("dispose", &NativeBackbone::Dispose)});
  constructor_ = new Napi::FunctionReference(Napi::Persistent(fn));
  return fn;
}

// new NativeBackbone(config, {device, dtype, seed})
NativeBackbone::NativeBackbone(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeBackbone>(info) {
  auto env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "NativeBackbone(config, options)");
  auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  guard(env, [&] {
    auto config = read_config(info[0].As<Napi::Object>());
    auto device = parse_device(get_string(opts, "device", "cpu"));
    auto dtype = parse_dtype(get_string(opts, "dtype", "fp32"), device);
    state_ = std::make_shared<BackboneState>(config);
    state_->model.to(device, dtype);
    state_->model.init_weights(static_cast<uint64_t>(get_int(opts, "seed", 0)));
    return 0;
  });
}

std::shared_ptr<BackboneState> NativeBackbone::StateOf(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor_->Value()))
    throw Napi::TypeError::New(value.Env(), "expected a NativeBackbone");
  return ObjectWrap<NativeBackbone>::Unwrap(value.As<Napi::Object>())->live(value.Env());
}

std::shared_ptr<BackboneState> NativeBackbone::live(Napi::Env env) const {
  if (!state_) throw Napi::Error::New(env, "this backbone has been disposed");
  return state_;
}

Napi::Value NativeBackbone::Config(const Napi::CallbackInfo& info) {
  return write_config(info.Env(), live(info.Env())->model.config());
}

Napi::Value NativeBackbone::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), device_name(live(info.Env())->model.device()));
}

Napi::Value NativeBackbone::Dtype(const Napi::CallbackInfo& info) {
  auto dtype = live(info.Env())->model.dtype();
  return Napi::String::New(info.Env(), dtype == torch::kBFloat16 ? "bf16" : "fp32");
}

Napi::Value NativeBackbone::Names(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto names = live(env)->model.names();
  auto out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(i, names[i]);
  return out;
}

Napi::Value NativeBackbone::Shapes(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& model = live(env)->model;
  auto names = model.names();
  auto out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    auto shape = model.expected_shape(names[i]);
    auto dims = Napi::Array::New(env, shape.size());
    for (size_t d = 0; d < shape.size(); ++d) dims.Set(d, shape[d]);
    out.Set(i, dims);
  }
  return out;
}

// setParameters(names: string[], data: Float32Array[]): copies each tensor in (shapes are the model's own).
Napi::Value NativeBackbone::SetParameters(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto state = live(env);
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "setParameters(names: string[], data: Float32Array[])");
  auto names = info[0].As<Napi::Array>();
  auto data = info[1].As<Napi::Array>();
  if (names.Length() != data.Length()) throw Napi::TypeError::New(env, "setParameters: names and data differ in length");
  guard(env, [&] {
    auto lock = hold_now(*state, "setParameters");
    torch::NoGradGuard no_grad;
    auto& model = state->model;
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const auto name = names.Get(i).As<Napi::String>().Utf8Value();
      auto& target = model.param(name);
      auto source = float_tensor(data.Get(i), "tensor " + name, model.expected_shape(name));
      // Finite weights: a NaN / Inf would silently zero every metric and gradient downstream.
      const auto [flat, value] = first_non_finite(source);
      if (flat >= 0)
        throw std::invalid_argument("tensor " + name + " holds " + value_text(value) + " at " +
                                    index_text(flat, source.sizes()) + " (weights must be finite)");
      target.copy_(source.to(target.device(), target.scalar_type()));
    }
    return 0;
  });
  return env.Undefined();
}

// getParameters() -> Promise<{names: string[], data: Float32Array[]}>
Napi::Value NativeBackbone::GetParameters(const Napi::CallbackInfo& info) {
  auto state = live(info.Env());
  using Out = std::vector<std::pair<std::string, torch::Tensor>>;
  return run_on_model<Out>(
      info.Env(), state,
      [state] {
        Out out;
        for (const auto& name : state->model.names())
          out.emplace_back(name, state->model.param(name).detach().to(torch::kCPU, torch::kFloat32).contiguous());
        return out;
      },
      [](Napi::Env env, Out& out) -> Napi::Value {
        auto names = Napi::Array::New(env, out.size());
        auto data = Napi::Array::New(env, out.size());
        for (size_t i = 0; i < out.size(); ++i) {
          names.Set(i, out[i].first);
          data.Set(i, to_float32_array(env, out[i].second));
        }
        auto o = Napi::Object::New(env);
        o.Set("names", names);
        o.Set("data", data);
        return o;
      });
}

// firstNonFinite() -> null | {name, index: number[], value: 'NaN' | 'Infinity' | '-Infinity'}: the first parameter
// (in names() order) holding a non-finite value, and where. One isfinite pass per tensor, on the model's device.
Napi::Value NativeBackbone::FirstNonFinite(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto state = live(env);
  return guard(env, [&]() -> Napi::Value {
    auto lock = hold_now(*state, "firstNonFinite");
    torch::NoGradGuard no_grad;
    for (const auto& name : state->model.names()) {
      const auto& p = state->model.param(name);
      const auto [flat, value] = first_non_finite(p.detach());
      if (flat < 0) continue;
      auto o = Napi::Object::New(env);
      o.Set("name", name);
      auto idx = Napi::Array::New(env, p.dim());
      int64_t rest = flat;
      for (int64_t d = p.dim(); d-- > 0;) {
        idx.Set(static_cast<uint32_t>(d), static_cast<double>(rest % p.size(d)));
        rest /= p.size(d);
      }
      o.Set("index", idx);
      o.Set("value", value_text(value));
      return o;
    }
    return env.Null();
  });
}

// forward(batch, {logits?: boolean, encoderHidden?: boolean}) -> Promise<{loss, lossPerExample, logits?, encoderHidden?}>
Napi::Value NativeBackbone::Forward(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto state = live(env);
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "forward(batch, options)");
  auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  const bool want_logits = get_bool(opts, "logits", false), want_hidden = get_bool(opts, "encoderHidden", false);
  auto batch = guard(env, [&] {
    return read_batch(info[0].As<Napi::Object>(), state->model.config(), state->model.device(), true);
  });
  return run_on_model<ForwardResult>(
      env, state,
      [state, batch] {
        torch::NoGradGuard no_grad;
        return forward(state->model, batch);
      },
      [want_logits, want_hidden](Napi::Env env, ForwardResult& r) -> Napi::Value {
        auto o = Napi::Object::New(env);
        o.Set("loss", r.loss.item<double>());
        o.Set("lossPerExample", to_float32_array(env, r.loss_per_example));
        if (want_logits) o.Set("logits", to_float32_array(env, r.logits));
        if (want_hidden) o.Set("encoderHidden", to_float32_array(env, r.encoder_hidden));
        return o;
      });
}

// inputGradients(batch) -> Promise<{loss, lossPerExample, gradients: Float32Array [B*L*D]}>
Napi::Value NativeBackbone::InputGradients(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto state = live(env);
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "inputGradients(batch)");
  auto batch = guard(env, [&] {
    return read_batch(info[0].As<Napi::Object>(), state->model.config(), state->model.device(), true);
  });
  return run_on_model<paprec::InputGradients>(
      env, state,
      [state, batch] {
        return input_gradients(state->model, batch);
      },
      [](Napi::Env env, paprec::InputGradients& r) -> Napi::Value {
        auto o = Napi::Object::New(env);
        o.Set("loss", r.loss_per_example.mean().item<double>());
        o.Set("lossPerExample", to_float32_array(env, r.loss_per_example));
        o.Set("gradients", to_float32_array(env, r.gradients));
        return o;
      });
}

// Never waits: a running worker holds its own reference, so the model is freed when the last call ends.
Napi::Value NativeBackbone::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();
  return info.Env().Undefined();
}

}  // namespace paprec
