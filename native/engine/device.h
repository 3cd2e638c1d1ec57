// Devices and precisions: `cpu`, `cuda`, `cuda:N`, `auto`; fp32 everywhere, tf32 / bf16 on CUDA.
#pragma once
#include <torch/torch.h>

#include <string>

namespace paprec {

torch::Device parse_device(const std::string& name);
// fp32 | tf32 | bf16 -> the weights' dtype; tf32 also switches on TF32 matmuls.
torch::Dtype parse_dtype(const std::string& name, const torch::Device& device);
std::string device_name(const torch::Device& device);
bool cuda_compiled();
bool cuda_available();
// Intra-op threads; Debian's LibTorch starts with one, so the addon sets all cores at load (PAPREC_THREADS overrides).
void configure_threads();

}  // namespace paprec
