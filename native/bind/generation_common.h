// Helpers shared by the generation bindings (generation.cc, generation_set.cc).
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "bind/backbone.h"
#include "engine/generate.h"

namespace paprec {

// The model in eval mode for the duration of a call (slot search and evaluation never use dropout); restores it.
class EvalMode {
 public:
  explicit EvalMode(P5Model& m) : model_(m), was_(m.training()) { model_.set_training(false); }
  ~EvalMode() { model_.set_training(was_); }

 private:
  P5Model& model_;
  bool was_;
};

std::vector<int64_t> int_vector(const Napi::Value& v, const std::string& what);
// An Int32Array as a 1-D long tensor on the CPU (a copy).
torch::Tensor int_vector_tensor(const Napi::Value& v, const std::string& what);
GenerateOptions read_generate_options(const Napi::Object& o);

void register_example_set(Napi::Env env, Napi::Object exports);  // bind/generation_set.cc

}  // namespace paprec
