// libFuzzer target for CompressedFileReader (ingest/compressed_file.h).
// Input bytes: a file's content. Input that starts with the gzip or zstd
// magic bytes is read as it is; any other input is read twice, behind the
// gzip and behind the zstd magic bytes, so that any bytes reach both
// decompressors. (Plain files are a read(2) loop; not worth an input's time.)
//
// Each file is read to its end (or the first error, or kMaxOutput bytes) in
// 64 KiB reads, and again in reads of 1 to 31 bytes (up to kMaxSmallOutput
// bytes). Checked: errors are kDataLoss and name the file; after the end, a
// read returns 0 again; both ways of reading return the same bytes and end
// the same way (the reader's contract does not depend on how much is asked
// for at a time).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "ingest/compressed_file.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse {
namespace {

constexpr size_t kMaxOutput = 8u << 20;
constexpr size_t kMaxSmallOutput = 64u << 10;

struct Output {
  std::string bytes;
  absl::Status status;
  bool capped = false;  // stopped at the size limit, not at the end
};

// Reads `path` in reads of `chunk(i)` bytes for the i-th read.
template <typename ChunkFn>
Output ReadAll(const std::string& path, Compression expected, size_t limit, ChunkFn chunk) {
  Output out;
  absl::StatusOr<std::unique_ptr<CompressedFileReader>> r = CompressedFileReader::Open(path);
  FUZZ_CHECK(r.ok());  // the file exists and is readable
  FUZZ_CHECK((*r)->compression() == expected);
  std::string buf;
  for (size_t i = 0;; ++i) {
    if (out.bytes.size() >= limit) {
      out.capped = true;
      break;
    }
    buf.resize(chunk(i));
    absl::StatusOr<size_t> n = (*r)->Read(buf.data(), buf.size());
    if (!n.ok()) {
      FUZZ_CHECK(n.status().code() == absl::StatusCode::kDataLoss);
      FUZZ_CHECK(fuzz::StartsWith(n.status().message(), path));
      out.status = n.status();
      break;
    }
    FUZZ_CHECK(*n <= buf.size());
    if (*n == 0) {
      absl::StatusOr<size_t> again = (*r)->Read(buf.data(), buf.size());
      FUZZ_CHECK(again.ok() && *again == 0);
      break;
    }
    out.bytes.append(buf.data(), *n);
  }
  FUZZ_CHECK((*r)->file_bytes_read() <= (*r)->file_size());
  return out;
}

void CheckFile(const std::string& path, Compression expected) {
  const Output big = ReadAll(path, expected, kMaxOutput, [](size_t) { return 64u << 10; });
  const Output small =
      ReadAll(path, expected, kMaxSmallOutput, [](size_t i) { return 1 + i % 31; });
  // A read that fails drops what it decoded before the error, so only the
  // bytes both returned are compared byte for byte.
  const size_t n = std::min(small.bytes.size(), big.bytes.size());
  FUZZ_CHECK(small.bytes.compare(0, n, big.bytes, 0, n) == 0);
  if (!big.capped && !small.capped) {
    FUZZ_CHECK(small.status.code() == big.status.code());
    if (big.status.ok()) FUZZ_CHECK(small.bytes == big.bytes);
    return;
  }
  // One stopped at its limit: the other cannot have reached the end sooner.
  if (!big.capped && big.status.ok()) FUZZ_CHECK(big.bytes.size() >= small.bytes.size());
  if (!small.capped && small.status.ok()) FUZZ_CHECK(small.bytes.size() >= big.bytes.size());
}

int TestOneInput(const uint8_t* data, size_t size) {
  static auto* file = new fuzz::ScratchFile("compressed_file");
  const std::string_view bytes = fuzz::AsText(data, size);
  constexpr std::string_view kGzipMagic("\x1f\x8b", 2);
  constexpr std::string_view kZstdMagic("\x28\xb5\x2f\xfd", 4);

  if (fuzz::StartsWith(bytes, kGzipMagic) || fuzz::StartsWith(bytes, kZstdMagic)) {
    file->Write(bytes);
    CheckFile(file->path(), fuzz::StartsWith(bytes, kGzipMagic) ? Compression::kGzip
                                                                 : Compression::kZstd);
    return 0;
  }
  file->Write(std::string(kGzipMagic) + std::string(bytes));
  CheckFile(file->path(), Compression::kGzip);
  file->Write(std::string(kZstdMagic) + std::string(bytes));
  CheckFile(file->path(), Compression::kZstd);
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
