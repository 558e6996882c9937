#include "ingest/compressed_file.h"

#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "fmt/format.h"

namespace roadpulse {

std::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "none";
}

Compression CompressionFromName(std::string_view path) {
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends_with(".gz")) return Compression::kGzip;
  if (ends_with(".zst") || ends_with(".zstd")) return Compression::kZstd;
  return Compression::kNone;
}

namespace ingest_internal {

// Pulls compressed bytes through `raw` and produces decompressed ones.
class Decompressor {
 public:
  using RawFn = std::function<absl::StatusOr<size_t>(char*, size_t)>;
  Decompressor(std::string path, RawFn raw) : path_(std::move(path)), raw_(std::move(raw)) {
    in_.resize(256 * 1024);
  }
  virtual ~Decompressor() = default;
  virtual absl::StatusOr<size_t> Read(char* out, size_t n) = 0;

 protected:
  // Refills in_ when empty; false at the end of the file.
  absl::StatusOr<bool> Fill() {
    if (in_pos_ < in_len_) return true;
    absl::StatusOr<size_t> got = raw_(in_.data(), in_.size());
    if (!got.ok()) return got.status();
    in_pos_ = 0;
    in_len_ = *got;
    return in_len_ > 0;
  }
  std::string path_;
  RawFn raw_;
  std::vector<char> in_;
  size_t in_pos_ = 0;
  size_t in_len_ = 0;
};

namespace {

class GzipDecompressor final : public Decompressor {
 public:
  GzipDecompressor(std::string path, RawFn raw) : Decompressor(std::move(path), std::move(raw)) {
    std::memset(&z_, 0, sizeof(z_));
    // 15 + 32: a gzip or zlib header, detected automatically.
    ok_ = inflateInit2(&z_, 15 + 32) == Z_OK;
  }
  ~GzipDecompressor() override { inflateEnd(&z_); }

  absl::StatusOr<size_t> Read(char* out, size_t n) override {
    if (!ok_) return absl::InternalError(fmt::format("{}: cannot initialise zlib", path_));
    size_t produced = 0;
    while (produced == 0 && n > 0) {
      absl::StatusOr<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (!*more) {
        if (in_member_) {
          return absl::DataLossError(fmt::format(
              "{}: truncated gzip stream: it ends inside a compressed member", path_));
        }
        return 0;
      }
      z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      z_.next_out = reinterpret_cast<Bytef*>(out);
      z_.avail_out = static_cast<uInt>(n);
      in_member_ = true;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      in_pos_ = in_len_ - z_.avail_in;
      produced = n - z_.avail_out;
      if (rc == Z_STREAM_END) {
        // Another member may follow (concatenated gzip files).
        in_member_ = false;
        inflateReset(&z_);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return absl::DataLossError(fmt::format("{}: corrupt gzip data: {}", path_,
                                               z_.msg != nullptr ? z_.msg : zError(rc)));
      }
    }
    return produced;
  }

 private:
  z_stream z_;
  bool ok_ = false;
  bool in_member_ = false;
};

// Decodes into a buffer of its own, ZSTD_DStreamOutSize() bytes, and serves
// reads from it: zstd's result must not depend on how much the caller asks
// for at a time. (zstd 1.5.4 checks a single-segment frame's declared content
// size only when the output buffer can hold all of it: a frame that declares
// 8,614 bytes and holds none was corrupt to a 64 KiB read and an empty file
// to a 1-byte one.)
class ZstdDecompressor final : public Decompressor {
 public:
  ZstdDecompressor(std::string path, RawFn raw)
      : Decompressor(std::move(path), std::move(raw)),
        ctx_(ZSTD_createDCtx()),
        out_(ZSTD_DStreamOutSize()) {}
  ~ZstdDecompressor() override { ZSTD_freeDCtx(ctx_); }

  absl::StatusOr<size_t> Read(char* out, size_t n) override {
    if (n == 0) return 0;
    while (out_pos_ == out_len_) {
      absl::StatusOr<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (!*more && last_ == 0) return 0;  // the end, after a complete frame
      // At the end of the file (in_ is empty) zstd may still hold decoded
      // bytes: ask; nothing more then means the file ends inside a frame.
      ZSTD_inBuffer in{in_.data() + in_pos_, in_len_ - in_pos_, 0};
      ZSTD_outBuffer o{out_.data(), out_.size(), 0};
      last_ = ZSTD_decompressStream(ctx_, &o, &in);
      if (ZSTD_isError(last_)) {
        return absl::DataLossError(
            fmt::format("{}: corrupt zstd data: {}", path_, ZSTD_getErrorName(last_)));
      }
      in_pos_ += in.pos;
      out_pos_ = 0;
      out_len_ = o.pos;
      if (!*more && o.pos == 0) {
        return absl::DataLossError(
            fmt::format("{}: truncated zstd stream: it ends inside a frame", path_));
      }
    }
    const size_t k = std::min(n, out_len_ - out_pos_);
    std::memcpy(out, out_.data() + out_pos_, k);
    out_pos_ += k;
    return k;
  }

 private:
  ZSTD_DCtx* ctx_;
  size_t last_ = 0;  // 0 when the last frame is complete
  std::vector<char> out_;
  size_t out_pos_ = 0;  // out_[out_pos_, out_len_): decoded, not yet read
  size_t out_len_ = 0;
};

}  // namespace
}  // namespace ingest_internal

absl::StatusOr<std::unique_ptr<CompressedFileReader>> CompressedFileReader::Open(
    const std::string& path) {
  std::unique_ptr<CompressedFileReader> r(new CompressedFileReader());
  r->path_ = path;
  if (path == "-") {
    r->file_ = stdin;
  } else {
    r->file_ = std::fopen(path.c_str(), "rb");
    if (r->file_ == nullptr) {
      const int err = errno;
      const std::string msg = fmt::format("{}: cannot open: {}", path, std::strerror(err));
      if (err == ENOENT) return absl::NotFoundError(msg);
      return absl::PermissionDeniedError(msg);
    }
    r->owns_file_ = true;
    struct stat st;
    if (fstat(fileno(r->file_), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        return absl::InvalidArgumentError(fmt::format("{}: is a directory", path));
      }
      if (S_ISREG(st.st_mode)) r->file_size_ = static_cast<uint64_t>(st.st_size);
    }
    std::setvbuf(r->file_, nullptr, _IONBF, 0);  // we read in large blocks ourselves
  }
  char magic[4];
  const size_t got = std::fread(magic, 1, sizeof(magic), r->file_);
  if (std::ferror(r->file_)) {
    return absl::DataLossError(fmt::format("{}: read error: {}", path, std::strerror(errno)));
  }
  r->sniffed_.assign(magic, got);
  r->file_bytes_read_ = got;
  const auto* m = reinterpret_cast<const unsigned char*>(magic);
  CompressedFileReader* self = r.get();
  auto raw = [self](char* out, size_t n) { return self->ReadRaw(out, n); };
  if (got >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
    r->compression_ = Compression::kGzip;
    r->decompressor_ = std::make_unique<ingest_internal::GzipDecompressor>(path, raw);
  } else if (got >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
    r->compression_ = Compression::kZstd;
    r->decompressor_ = std::make_unique<ingest_internal::ZstdDecompressor>(path, raw);
  }
  return r;
}

CompressedFileReader::~CompressedFileReader() {
  if (owns_file_ && file_ != nullptr) std::fclose(file_);
}

absl::StatusOr<size_t> CompressedFileReader::ReadRaw(char* out, size_t n) {
  size_t total = 0;
  if (sniffed_pos_ < sniffed_.size()) {
    const size_t k = std::min(n, sniffed_.size() - sniffed_pos_);
    std::memcpy(out, sniffed_.data() + sniffed_pos_, k);
    sniffed_pos_ += k;
    total += k;
    if (total == n) return total;
  }
  const size_t got = std::fread(out + total, 1, n - total, file_);
  if (got == 0 && std::ferror(file_)) {
    return absl::DataLossError(fmt::format("{}: read error: {}", path_, std::strerror(errno)));
  }
  file_bytes_read_ += got;
  return total + got;
}

absl::StatusOr<size_t> CompressedFileReader::Read(char* out, size_t n) {
  if (decompressor_ != nullptr) return decompressor_->Read(out, n);
  return ReadRaw(out, n);
}

}  // namespace roadpulse
