// The JS class `NativeBackbone`: one P5 model on one device. Long calls are async and serialised per model.
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>

#include "bind/async.h"
#include "model/t5.h"

namespace paprec {

// TypeScript serialises the calls on one model (Backbone's queue), so the JS thread never waits here: async calls
// take `mutex` on their worker thread, the few synchronous ones only try it (`hold_now`).
struct BackboneState {
  explicit BackboneState(const P5Config& c) : model(c) {}
  P5Model model;
  std::mutex mutex;  // one native call at a time per model (a safety net behind the TypeScript queue)
};

// The model's lock for a synchronous call on the JS thread, or a thrown error when a running call holds it.
std::unique_lock<std::mutex> hold_now(BackboneState& s, const std::string& what);

// A long call on the model: `work` runs on a worker thread holding the model's lock; `done` settles the Promise on
// the JS thread (async.h).
template <typename Result, typename Work, typename Done>
Napi::Promise run_on_model(Napi::Env env, std::shared_ptr<BackboneState> model, Work work, Done done) {
  return run_async<Result>(
      env,
      [model, work]() -> Result {
        std::lock_guard<std::mutex> lock(model->mutex);
        return work();
      },
      std::move(done));
}

class NativeBackbone : public Napi::ObjectWrap<NativeBackbone> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeBackbone(const Napi::CallbackInfo& info);
  std::shared_ptr<BackboneState> state() const { return state_; }
  // The state behind a JS NativeBackbone, or a thrown TypeError.
  static std::shared_ptr<BackboneState> StateOf(const Napi::Value& value);

 private:
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Names(const Napi::CallbackInfo& info);
  Napi::Value Shapes(const Napi::CallbackInfo& info);
  Napi::Value SetParameters(const Napi::CallbackInfo& info);
  Napi::Value GetParameters(const Napi::CallbackInfo& info);
  Napi::Value FirstNonFinite(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value InputGradients(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<BackboneState> live(Napi::Env env) const;
  std::shared_ptr<BackboneState> state_;
  static Napi::FunctionReference* constructor_;
};

}  // namespace paprec
