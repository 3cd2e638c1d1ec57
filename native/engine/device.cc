#include "engine/device.h"


#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace paprec {

bool cuda_compiled() {
#ifdef PAPREC_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_available() { return torch::cuda::is_available(); }

torch::Device parse_device(const std::string& name) {
  if (name == "auto" || name.empty()) return cuda_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (name.size() > 5) {
      const std::string digits = name.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument("device '" + name + "': expected cuda:N with N a GPU index");
      index = std::stoi(digits);
    }
    if (!cuda_available())
      throw std::invalid_argument("device '" + name + "' requested but no CUDA GPU is available" +
                                  (cuda_compiled() ? "" : " (this build of paprec links a CPU-only LibTorch)"));
    if (index >= static_cast<int>(torch::cuda::device_count()))
      throw std::invalid_argument("device '" + name + "': only " + std::to_string(torch::cuda::device_count()) +
                                  " CUDA device(s) visible");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("device '" + name + "': expected cpu, cuda, cuda:N or auto");
}

std::string cpu_bf16_support() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream flags(line.substr(line.find(':') + 1));
    std::string flag;
    bool amx = false, avx512 = false;
    while (flags >> flag) {
      amx = amx || flag == "amx_bf16";
      avx512 = avx512 || flag == "avx512_bf16";
    }
    return amx ? "amx_bf16" : avx512 ? "avx512_bf16" : "";
  }
  return "";
}

namespace {

// Why bf16 cannot run on this CPU with this LibTorch, or "" when it can.
std::string cpu_bf16_refusal() {
#if TORCH_VERSION_MAJOR < 2
  return "this build of paprec links LibTorch " + std::to_string(TORCH_VERSION_MAJOR) + "." +
         std::to_string(TORCH_VERSION_MINOR) +
         ", whose CPU kernels have no native bf16 matrix products (build against LibTorch 2.x)";
#else
  if (!at::hasMKLDNN()) return "this LibTorch was built without oneDNN, which runs bf16 matrix products on the CPU";
  if (cpu_bf16_support().empty())
    return "this CPU has no native bf16 matrix unit (neither AMX nor AVX512-BF16 in /proc/cpuinfo); it supports fp32";
  return "";
#endif
}

}  // namespace

torch::Dtype parse_dtype(const std::string& name, const torch::Device& device) {
  if (name.empty() || name == "fp32" || name == "float32") return torch::kFloat32;
  if (name == "auto") {
    // CUDA: bf16 (native from Ampere on; older GPUs run it, slower); CPU: where it has a bf16 matrix unit.
    const bool bf16 = device.is_cuda() || cpu_bf16_refusal().empty();
    return bf16 ? torch::kBFloat16 : torch::kFloat32;
  }
  if (name == "tf32") {
    if (!device.is_cuda()) throw std::invalid_argument("dtype 'tf32' is for CUDA devices; use fp32 or bf16 on CPU");
    at::globalContext().setAllowTF32CuBLAS(true);
    at::globalContext().setAllowTF32CuDNN(true);
    return torch::kFloat32;
  }
  if (name == "bf16" || name == "bfloat16") {
    if (device.is_cpu()) {
      const auto why = cpu_bf16_refusal();
      if (!why.empty()) throw std::invalid_argument("dtype 'bf16' on " + device.str() + ": " + why);
    }
    return torch::kBFloat16;
  }
  if (name == "fp16" || name == "float16")
    throw std::invalid_argument("dtype '" + name + "': T5 overflows in fp16; use bf16 (or fp32)");
  throw std::invalid_argument("dtype '" + name + "': expected fp32, bf16, tf32 (CUDA) or auto");
}

std::string device_name(const torch::Device& device) { return device.str(); }

void configure_threads() {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("PAPREC_THREADS")) threads = std::atoi(env);
  if (threads > 0) at::set_num_threads(threads);
}

}  // namespace paprec
