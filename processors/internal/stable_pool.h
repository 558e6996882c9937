// StablePool<T>: a growable array whose elements never move (chunks of
// 2^kChunkBits elements), indexed by uint32_t. The bucket pool of a
// PartitionProcessor.
//
// Why not std::deque: libstdc++ gives a deque 512-byte blocks, which for a
// 176-byte bucket means two buckets a block, a heap block per two buckets and
// a division and two dependent loads per lookup. Here a lookup is a shift, a
// mask and one load of the chunk pointer (the chunk table is small and stays
// in cache).
//
// Not thread-safe. Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_STABLE_POOL_H_
#define ROADPULSE_PROCESSORS_INTERNAL_STABLE_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace roadpulse {
namespace processors_internal {

template <typename T>
class StablePool {
 public:
  // REQUIRES: index < size().
  T& operator[](uint32_t index) { return chunks_[index >> kChunkBits][index & kMask]; }
  const T& operator[](uint32_t index) const {
    return chunks_[index >> kChunkBits][index & kMask];
  }

  // Appends a value-initialized element; returns its index. Earlier elements
  // keep their addresses.
  uint32_t Add() {
    if ((size_ & kMask) == 0) chunks_.push_back(std::make_unique<T[]>(kChunkSize));
    const uint32_t index = size_++;
    (*this)[index] = T{};
    return index;
  }

  uint32_t size() const { return size_; }

 private:
  static constexpr int kChunkBits = 9;
  static constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;
  static constexpr uint32_t kMask = kChunkSize - 1;
  std::vector<std::unique_ptr<T[]>> chunks_;
  uint32_t size_ = 0;
};

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_STABLE_POOL_H_
