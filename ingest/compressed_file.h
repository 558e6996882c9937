// CompressedFileReader: reads a file as a byte stream, decompressing it when
// it is gzip or zstd (detected by magic bytes, not by name). The input side of
// event-log files and CSV imports; memory does not depend on the file size.
#ifndef ROADPULSE_INGEST_COMPRESSED_FILE_H_
#define ROADPULSE_INGEST_COMPRESSED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace roadpulse {

enum class Compression : uint8_t {
  kNone,
  kGzip,  // RFC 1952 (also several concatenated members), through zlib
  kZstd,  // zstd frames, through libzstd
};

// "none", "gzip", "zstd".
std::string_view CompressionName(Compression compression);

// Compression a file name asks for by its ending: ".gz" gzip, ".zst" zstd.
Compression CompressionFromName(std::string_view path);

namespace ingest_internal {
class Decompressor;
}  // namespace ingest_internal

// Thread-compatible. Not copyable.
class CompressedFileReader {
 public:
  // Opens `path` ("-" is standard input) and sniffs its first bytes.
  // kNotFound / kPermissionDenied name the file.
  static absl::StatusOr<std::unique_ptr<CompressedFileReader>> Open(const std::string& path);
  ~CompressedFileReader();
  CompressedFileReader(const CompressedFileReader&) = delete;
  CompressedFileReader& operator=(const CompressedFileReader&) = delete;

  // Reads up to `n` bytes of the decompressed stream into `out`; 0 at its end.
  // kDataLoss names the file for corrupt or truncated compressed data (what
  // was returned before stays valid).
  absl::StatusOr<size_t> Read(char* out, size_t n);

  const std::string& path() const { return path_; }
  Compression compression() const { return compression_; }
  // Size of the file on disk (0 when unknown, e.g. a pipe) and how much of
  // it has been consumed so far: for progress and ETA.
  uint64_t file_size() const { return file_size_; }
  uint64_t file_bytes_read() const { return file_bytes_read_; }

 private:
  CompressedFileReader() = default;
  // Raw (compressed) bytes from the file.
  absl::StatusOr<size_t> ReadRaw(char* out, size_t n);

  std::string path_;
  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  Compression compression_ = Compression::kNone;
  uint64_t file_size_ = 0;
  uint64_t file_bytes_read_ = 0;
  std::string sniffed_;  // first raw bytes, returned before the rest of the file
  size_t sniffed_pos_ = 0;
  std::unique_ptr<ingest_internal::Decompressor> decompressor_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_COMPRESSED_FILE_H_
