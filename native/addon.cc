// Module init: the classes and the build / runtime facts.
#include <napi.h>
#include <torch/torch.h>

#include "bind/backbone.h"
#include "bind/register.h"
#include "dist/group.h"
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
  o.Set("distBackends", dist_backends());  // "" where this build has no c10d (one process only)
  o.Set("cpuBf16", cpu_bf16_support());  // the CPU's bf16 matrix unit, "" when it has none
  o.Set("cpuAutoDtype", parse_dtype("auto", torch::kCPU) == torch::kBFloat16 ? "bf16" : "fp32");
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1)
    throw Napi::TypeError::New(info.Env(), "setThreads(n): n must be a positive integer");
  at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// resolveDtype(name, device) -> "fp32" | "bf16" | "tf32": what a dtype request means on a device ("auto" resolved);
// throws, with the reason, where it cannot run.
static Napi::Value ResolveDtype(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw Napi::TypeError::New(env, "resolveDtype(dtype: string, device: string)");
  const auto name = info[0].As<Napi::String>().Utf8Value();
  try {
    const auto dtype = parse_dtype(name, parse_device(info[1].As<Napi::String>().Utf8Value()));
    return Napi::String::New(env, dtype == torch::kBFloat16 ? "bf16" : name == "tf32" ? "tf32" : "fp32");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  configure_threads();
  exports.Set("NativeBackbone", NativeBackbone::Define(env));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("resolveDtype", Napi::Function::New(env, ResolveDtype));
  register_generation(env, exports);
  register_training(env, exports);
  register_dist(env, exports);
  return exports;
}

}  // namespace paprec

static Napi::Object InitPaprec(Napi::Env env, Napi::Object exports) { return paprec::Init(env, exports); }

NODE_API_MODULE(paprec_native, InitPaprec)
