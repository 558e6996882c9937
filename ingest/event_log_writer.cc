#include "ingest/event_log_writer.h"

#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "fmt/format.h"
#include "google/protobuf/io/coded_stream.h"

namespace roadpulse {
namespace ingest_internal {

// Compresses bytes and hands the output to `sink`.
class Compressor {
 public:
  virtual ~Compressor() = default;
  virtual bool Write(std::string_view in, bool finish, std::FILE* out) = 0;
};

namespace {

class GzipCompressor final : public Compressor {
 public:
  explicit GzipCompressor(int level) {
    std::memset(&z_, 0, sizeof(z_));
    deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: gzip header
    out_.resize(256 * 1024);
  }
  ~GzipCompressor() override { deflateEnd(&z_); }
  bool Write(std::string_view in, bool finish, std::FILE* out) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    int rc;
    do {
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      rc = deflate(&z_, finish ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) return false;
      const size_t n = out_.size() - z_.avail_out;
      if (n > 0 && std::fwrite(out_.data(), 1, n, out) != n) return false;
    } while (z_.avail_out == 0 || (finish && rc != Z_STREAM_END));
    return true;
  }

 private:
  z_stream z_;
  std::vector<char> out_;
};

class ZstdCompressor final : public Compressor {
 public:
  explicit ZstdCompressor(int level) : ctx_(ZSTD_createCCtx()) {
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
    out_.resize(ZSTD_CStreamOutSize());
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(ctx_); }
  bool Write(std::string_view in, bool finish, std::FILE* out) override {
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    const ZSTD_EndDirective mode = finish ? ZSTD_e_end : ZSTD_e_continue;
    while (true) {
      ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
      const size_t left = ZSTD_compressStream2(ctx_, &ob, &ib, mode);
      if (ZSTD_isError(left)) return false;
      if (ob.pos > 0 && std::fwrite(out_.data(), 1, ob.pos, out) != ob.pos) return false;
      if (finish ? left == 0 : ib.pos == ib.size) return true;
    }
  }

 private:
  ZSTD_CCtx* ctx_;
  std::vector<char> out_;
};

}  // namespace
}  // namespace ingest_internal

namespace {
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
}  // namespace

absl::StatusOr<std::unique_ptr<EventLogWriter>> EventLogWriter::Create(
    const std::string& path, const EventLogWriterOptions& options) {
  std::unique_ptr<EventLogWriter> w(new EventLogWriter());
  w->path_ = path;
  w->compression_ = options.compression.value_or(CompressionFromName(path));
  w->format_ = options.format;
  if (w->format_ == EventLogFormat::kAuto) {
    std::string_view base = path;
    for (std::string_view c : {".gz", ".zst", ".zstd"}) {
      if (EndsWith(base, c)) {
        base.remove_suffix(c.size());
        break;
      }
    }
    w->format_ = EndsWith(base, ".jsonl") || EndsWith(base, ".ndjson") || EndsWith(base, ".json")
                     ? EventLogFormat::kJsonLines
                     : EventLogFormat::kDelimited;
  }
  if (path == "-") {
    w->file_ = stdout;
  } else {
    struct stat st;
    const bool exists = ::lstat(path.c_str(), &st) == 0;
    if (!exists || S_ISREG(st.st_mode)) w->partial_path_ = path + ".partial";
    const std::string& open_path = w->partial_path_.empty() ? path : w->partial_path_;
    w->file_ = std::fopen(open_path.c_str(), "wb");
    if (w->file_ == nullptr) {
      return absl::PermissionDeniedError(fmt::format(
          "{}: cannot open {}for writing: {}", path,
          w->partial_path_.empty() ? "" : w->partial_path_ + " ", std::strerror(errno)));
    }
    w->owns_file_ = true;
  }
  switch (w->compression_) {
    case Compression::kNone:
      break;
    case Compression::kGzip:
      w->compressor_ = std::make_unique<ingest_internal::GzipCompressor>(
          std::min(std::max(options.level, 1), 9));
      break;
    case Compression::kZstd:
      w->compressor_ = std::make_unique<ingest_internal::ZstdCompressor>(options.level);
      break;
  }
  return w;
}

EventLogWriter::~EventLogWriter() {
  if (closed_) return;
  if (owns_file_) std::fclose(file_);
  if (!partial_path_.empty()) std::remove(partial_path_.c_str());
}

absl::Status EventLogWriter::Emit(std::string_view bytes) {
  const bool ok = compressor_ != nullptr
                      ? compressor_->Write(bytes, false, file_)
                      : std::fwrite(bytes.data(), 1, bytes.size(), file_) == bytes.size();
  if (!ok) return absl::DataLossError(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
  return absl::OkStatus();
}

absl::Status EventLogWriter::Write(v1::EventKind kind, std::string_view key,
                                   std::string_view value, int64_t timestamp_unix_ms,
                                   const std::optional<KafkaPosition>& position) {
  scratch_.clear();
  if (format_ == EventLogFormat::kJsonLines) {
    AppendEventLogJson(kind, key, value, timestamp_unix_ms, position, nullptr, &scratch_);
    scratch_.push_back('\n');
  } else {
    record_.set_kind(kind);
    record_.set_key(key.data(), key.size());
    record_.set_value(value.data(), value.size());
    record_.set_timestamp_unix_ms(timestamp_unix_ms);
    const size_t size = record_.ByteSizeLong();
    uint8_t prefix[10];
    const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
        static_cast<uint32_t>(size), prefix);
    scratch_.assign(reinterpret_cast<const char*>(prefix), end - prefix);
    record_.AppendToString(&scratch_);
  }
  ++records_;
  return Emit(scratch_);
}

absl::Status EventLogWriter::Flush() {
  if (closed_) return absl::FailedPreconditionError(fmt::format("{}: flushed after Close", path_));
  if (std::fflush(file_) != 0) {
    return absl::DataLossError(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status EventLogWriter::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  bool ok = true;
  if (compressor_ != nullptr) ok = compressor_->Write({}, true, file_);
  ok = std::fflush(file_) == 0 && ok;
  if (owns_file_) ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok) {
    const int error = errno;
    if (!partial_path_.empty()) std::remove(partial_path_.c_str());
    return absl::DataLossError(fmt::format("{}: write failed: {}", path_, std::strerror(error)));
  }
  if (!partial_path_.empty() && std::rename(partial_path_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    std::remove(partial_path_.c_str());
    return absl::DataLossError(
        fmt::format("{}: cannot rename {} to it: {}", path_, partial_path_, std::strerror(error)));
  }
  return absl::OkStatus();
}

}  // namespace roadpulse
