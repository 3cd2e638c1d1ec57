// The engine's one seeded generator: SplitMix64 with its own Fisher-Yates and bounded integers, so every seeded
// choice (training batch plans, sampled gradient passes) is the same with any C++ standard library.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace paprec {

// splitmix64's finaliser over (seed, key): turns (seed, counter) pairs into well-spread 64-bit seeds.
inline uint64_t mix_seed(uint64_t seed, uint64_t key) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (key + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct Rng {
  uint64_t state;
  uint64_t next() { return state = mix_seed(state, 0); }
  // In [0, n), n > 0 (modulo: a bias below n / 2^64, and the sequence fixed by this line alone).
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[below(i + 1)]);
  }
};

}  // namespace paprec
