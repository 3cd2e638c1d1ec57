// Devices and precisions: `cpu`, `cuda`, `cuda:N`, `auto`; fp32 everywhere, bf16 on CUDA and on CPUs with a native
// bf16 matrix unit (AMX, AVX512-BF16; LibTorch 2.x), tf32 on CUDA; `auto` picks bf16 where it runs natively.
#pragma once
#include <torch/torch.h>

#include <string>

namespace paprec {

torch::Device parse_device(const std::string& name);
// fp32 | tf32 | bf16 | auto -> the weights' dtype; tf32 also switches on TF32 matmuls. bf16 where it cannot run
// natively, and fp16 (T5 overflows), are refused with the reason.
torch::Dtype parse_dtype(const std::string& name, const torch::Device& device);
std::string device_name(const torch::Device& device);
bool cuda_compiled();
// The CPU's native bf16 matrix unit ("amx_bf16", "avx512_bf16") or "".
std::string cpu_bf16_support();
bool cuda_available();
// Intra-op threads; Debian's LibTorch starts with one, so the addon sets all cores at load (PAPREC_THREADS overrides).
void configure_threads();

}  // namespace paprec
