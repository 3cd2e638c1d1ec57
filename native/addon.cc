// Module init: the classes and the build / runtime facts.
#include <napi.h>
#include <torch/torch.h>

#include "bind/backbone.h"
#include "bind/register.h"
#include "engine/device.h"

namespace paprec {

static Napi::Value Info(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                            std::to_string(TORCH_VERSION_PATCH));
  o.Set("cudaCompiled", cuda_compiled());
  o.Set("cudaAvailable", cuda_available());
  o.Set("cudaDevices", static_cast<double>(cuda_available() ? torch::cuda::device_count() : 0));
  o.Set("threads", at::get_num_threads());
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1)
    throw Napi::TypeError::New(info.Env(), "setThreads(n): n must be a positive integer");
  at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  configure_threads();
  exports.Set("NativeBackbone", NativeBackbone::Define(env));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  register_generation(env, exports);
  register_training(env, exports);
  return exports;
}

}  // namespace paprec

static Napi::Object InitPaprec(Napi::Env env, Napi::Object exports) { return paprec::Init(env, exports); }

NODE_API_MODULE(paprec_native, InitPaprec)
