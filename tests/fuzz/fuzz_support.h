// Shared by the fuzz targets in tests/fuzz/ (libFuzzer, or replay_main.cc in
// the normal build):
//  - ScratchFile: an in-memory file with a path, for code under test that
//    opens files by name;
//  - FUZZ_CHECK: an invariant that must hold for every input; a violation
//    aborts, which libFuzzer reports as a crash and saves the input;
//  - QuietProtobufLogs: no libprotobuf log lines.
// Not thread-safe; a fuzz target runs one input at a time.
#ifndef ROADPULSE_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define ROADPULSE_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace roadpulse::fuzz {

// A memfd reached through /proc/self/fd/N: rewriting it costs no disk I/O
// and nothing is left behind when the process dies (a crash, a timeout).
class ScratchFile {
 public:
  // `name` shows up in /proc/self/fd only (for debugging).
  explicit ScratchFile(const char* name) : fd_(memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~ScratchFile() { close(fd_); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }

  // Replaces the file's content.
  void Write(std::string_view bytes) {
    Truncate(0);
    WriteAt(0, bytes);
  }
  void Truncate(size_t size) {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      std::perror("ftruncate");
      std::abort();
    }
  }
  // Writes `bytes` at `offset`, growing the file as needed.
  void WriteAt(size_t offset, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::perror("pwrite");
        std::abort();
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<size_t>(n);
    }
  }

 private:
  int fd_;
  std::string path_;
};

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// libprotobuf logs an error line for every string field with invalid UTF-8
// it parses: millions of lines that slow a fuzzer down and bury its output.
inline void QuietProtobufLogs() {
  static const bool once = (google::protobuf::SetLogHandler(nullptr), true);
  (void)once;
}

// Debian's abseil has its own absl::string_view (not std::string_view), so
// absl::StartsWith does not take a std::string_view.
inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
inline bool StartsWith(absl::string_view s, std::string_view prefix) {
  return StartsWith(std::string_view(s.data(), s.size()), prefix);
}

}  // namespace roadpulse::fuzz

#endif  // ROADPULSE_TESTS_FUZZ_FUZZ_SUPPORT_H_
