// Load64 / Load32: a word of bytes from any address (no alignment needed),
// in the machine's byte order.
//
// Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_LOAD_H_
#define ROADPULSE_PROCESSORS_INTERNAL_LOAD_H_

#include <cstdint>
#include <cstring>

namespace roadpulse {
namespace processors_internal {

inline uint64_t Load64(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof(word));
  return word;
}

inline uint64_t Load32(const char* p) {
  uint32_t word;
  std::memcpy(&word, p, sizeof(word));
  return word;
}

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_LOAD_H_
