// Seeds derived from seeds: one run seed gives every transform, epoch and sample its own
// independent stream, so results depend on the seed and the position, never on thread timing.
#pragma once
#include <cstdint>
#include <random>

namespace ptx::data {

// SplitMix64's finaliser: a bijection that scatters nearby inputs.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The seed of child `index` of `seed` (a transform in a pipeline, an epoch, a sample in an epoch).
inline uint64_t derive_seed(uint64_t seed, uint64_t index) {
  return splitmix64(splitmix64(seed) ^ splitmix64(~index));
}

// Uniform double in [0, 1) from the top 53 bits (the same on every standard library, unlike
// std::uniform_real_distribution).
inline double unit_interval(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

// Uniform integer in [lo, hi] (lo <= hi).
inline int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  const uint64_t span = uint64_t(hi - lo) + 1;
  return span == 0 ? int64_t(rng()) : lo + int64_t(rng() % span);
}

}  // namespace ptx::data
