#include "engine/device.h"

#include <cstdlib>
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

torch::Dtype parse_dtype(const std::string& name, const torch::Device& device) {
  if (name.empty() || name == "fp32" || name == "float32") return torch::kFloat32;
  if (name == "tf32" || name == "bf16" || name == "bfloat16") {
    if (!device.is_cuda()) throw std::invalid_argument("dtype '" + name + "' is for CUDA devices; use fp32 on CPU");
    if (name == "tf32") {
      at::globalContext().setAllowTF32CuBLAS(true);
      at::globalContext().setAllowTF32CuDNN(true);
      return torch::kFloat32;
    }
    return torch::kBFloat16;
  }
  throw std::invalid_argument("dtype '" + name + "': expected fp32, tf32 or bf16");
}

std::string device_name(const torch::Device& device) { return device.str(); }

void configure_threads() {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("PAPREC_THREADS")) threads = std::atoi(env);
  if (threads > 0) at::set_num_threads(threads);
}

}  // namespace paprec
