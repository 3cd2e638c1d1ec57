// Typed arrays <-> tensors, and reading option objects. Inputs are copied on the JS thread, so a worker never
// touches JS memory.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "engine/loss.h"
#include "engine/rows.h"
#include "model/config.h"

namespace paprec {

// An Int32Array of `count` elements as a [rows, cols] long tensor (a copy).
torch::Tensor int_tensor(const Napi::Value& value, const std::string& what, std::vector<int64_t> shape);
torch::Tensor float_tensor(const Napi::Value& value, const std::string& what, std::vector<int64_t> shape);
Napi::Float32Array to_float32_array(Napi::Env env, const torch::Tensor& t);
Napi::Int32Array to_int32_array(Napi::Env env, const torch::Tensor& t);

int64_t get_int(const Napi::Object& o, const char* key, int64_t fallback);
int64_t require_int(const Napi::Object& o, const char* key, const std::string& what);
double get_number(const Napi::Object& o, const char* key, double fallback);
bool get_bool(const Napi::Object& o, const char* key, bool fallback);
std::string get_string(const Napi::Object& o, const char* key, const std::string& fallback);

P5Config read_config(const Napi::Object& o);
Napi::Object write_config(Napi::Env env, const P5Config& c);

// A padded batch object {batchSize, sourceLength, targetLength?, inputIds, attentionMask, wholeWordIds?, labels?},
// range-checked against the config, on `device`.
Batch read_batch(const Napi::Object& o, const P5Config& config, const torch::Device& device, bool need_labels);

// {inputIds, inputOffsets, wholeWordIds, targetIds, targetOffsets} (Int32Arrays; src/types.ts RaggedRows), copied.
Rows read_rows(const Napi::Object& o, const std::string& what);

}  // namespace paprec
