// Each binding file registers its functions / classes on the module's exports.
#pragma once
#include <napi.h>

namespace paprec {
void register_generation(Napi::Env env, Napi::Object exports);  // bind/generation.cc
void register_training(Napi::Env env, Napi::Object exports);    // bind/training.cc
void register_dist(Napi::Env env, Napi::Object exports);        // bind/dist.cc
}  // namespace paprec
