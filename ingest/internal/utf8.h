// Internal to ingest/: UTF-8 validation (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), with an ASCII fast path.
#ifndef ROADPULSE_INGEST_INTERNAL_UTF8_H_
#define ROADPULSE_INGEST_INTERNAL_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace roadpulse::ingest_internal {

// Byte index of the first invalid UTF-8 sequence in `s`, or s.size() when
// all of it is valid.
inline size_t FirstInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return n;
}

inline bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == s.size(); }

}  // namespace roadpulse::ingest_internal

#endif  // ROADPULSE_INGEST_INTERNAL_UTF8_H_
