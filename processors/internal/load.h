// Load64 / Load32: a word of bytes from any address (no alignment needed),
// in the machine's byte order. LoadPartial64: up to 8 bytes, as an integer;
// LoadPartial128: up to 16, as two.
//
// Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_LOAD_H_
#define ROADPULSE_PROCESSORS_INTERNAL_LOAD_H_

#include <cstddef>
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

// Bytes [0, n) of p, n <= 8, as a little-endian integer (byte i in bits
// 8i to 8i + 7, zeros above), reading no byte outside them: from 4 bytes on,
// two overlapping words (the overlapped bytes land on the same bits, so
// or-ing them is exact); below 4, the first, middle and last byte.
inline uint64_t LoadPartial64(const char* p, size_t n) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "the words must hold their first byte in their low bits");
  if (n >= 4) return Load32(p) | (Load32(p + n - 4) << (8 * (n - 4)));
  if (n == 0) return 0;
  const auto byte = [p](size_t i) { return uint64_t{static_cast<uint8_t>(p[i])} << (8 * i); };
  return byte(0) | byte(n / 2) | byte(n - 1);
}

// Bytes [0, n) of p, n <= 16, as two little-endian integers: *lo holds
// bytes 0 to min(n, 8) - 1, *hi bytes 8 to n - 1 (0 when n <= 8). Reads no
// byte outside them. Past 8 bytes, *hi is the last word shifted down past
// the bytes it shares with the first.
inline void LoadPartial128(const char* p, size_t n, uint64_t* lo, uint64_t* hi) {
  *lo = n >= 8 ? Load64(p) : LoadPartial64(p, n);
  *hi = n > 8 ? Load64(p + n - 8) >> (8 * (16 - n)) : 0;
}

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_LOAD_H_
