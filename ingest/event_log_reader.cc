#include "ingest/event_log_reader.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include "fmt/format.h"
#include "ingest/event_log_json.h"

namespace roadpulse {
namespace {

constexpr size_t kInitialBuffer = 1u << 20;
constexpr size_t kMaxVarint = 10;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// JSON Lines by the file's name, ignoring a compression suffix.
bool JsonByName(std::string_view path) {
  for (std::string_view c : {".gz", ".zst", ".zstd"}) {
    if (EndsWith(path, c)) {
      path.remove_suffix(c.size());
      break;
    }
  }
  return EndsWith(path, ".jsonl") || EndsWith(path, ".ndjson") || EndsWith(path, ".json");
}

// Reads a base-128 varint from [p, end). Returns the bytes used, 0 when the
// range ends first, -1 when it is longer than 10 bytes.
int ReadVarint(const char* p, const char* end, uint64_t* value) {
  uint64_t v = 0;
  for (int i = 0; i < static_cast<int>(kMaxVarint); ++i) {
    if (p + i >= end) return 0;
    const auto b = static_cast<uint8_t>(p[i]);
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *value = v;
      return i + 1;
    }
  }
  return -1;
}

// Decodes LoggedRecord's wire format in place. Unknown fields are skipped
// (forward compatibility); returns a description of the problem, or empty.
std::string_view DecodeLoggedRecord(const char* p, const char* end, SourceRecord* r) {
  r->kind = v1::EVENT_KIND_UNSPECIFIED;
  r->key = {};
  r->value = {};
  r->timestamp_unix_ms = 0;
  while (p < end) {
    uint64_t tag;
    int n = ReadVarint(p, end, &tag);
    if (n <= 0) return "bad field tag";
    p += n;
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire = static_cast<uint32_t>(tag & 7);
    if (field == 0) return "field number 0";
    switch (wire) {
      case 0: {  // varint
        uint64_t v;
        n = ReadVarint(p, end, &v);
        if (n <= 0) return "bad varint";
        p += n;
        if (field == 1) r->kind = static_cast<v1::EventKind>(static_cast<int32_t>(v));
        if (field == 4) r->timestamp_unix_ms = static_cast<int64_t>(v);
        break;
      }
      case 1:  // fixed64
        if (end - p < 8) return "fixed64 field past the end";
        p += 8;
        break;
      case 2: {  // length-delimited
        uint64_t len;
        n = ReadVarint(p, end, &len);
        if (n <= 0) return "bad length";
        p += n;
        if (len > static_cast<uint64_t>(end - p)) return "a field runs past the end of the record";
        if (field == 2) r->key = std::string_view(p, len);
        if (field == 3) r->value = std::string_view(p, len);
        p += len;
        break;
      }
      case 5:  // fixed32
        if (end - p < 4) return "fixed32 field past the end";
        p += 4;
        break;
      default:
        return "unsupported wire type";
    }
  }
  return {};
}

}  // namespace

std::string_view EventLogFormatName(EventLogFormat format) {
  switch (format) {
    case EventLogFormat::kAuto:
      return "auto";
    case EventLogFormat::kDelimited:
      return "delimited";
    case EventLogFormat::kJsonLines:
      return "jsonl";
  }
  return "auto";
}

EventLogReader::EventLogReader(std::unique_ptr<CompressedFileReader> file,
                               EventLogReaderOptions options)
    : file_(std::move(file)), options_(options) {
  buf_.resize(kInitialBuffer);
}

absl::StatusOr<std::unique_ptr<EventLogReader>> EventLogReader::Open(
    const std::string& path, const EventLogReaderOptions& options) {
  absl::StatusOr<std::unique_ptr<CompressedFileReader>> file = CompressedFileReader::Open(path);
  if (!file.ok()) return file.status();
  std::unique_ptr<EventLogReader> r(new EventLogReader(*std::move(file), options));
  absl::StatusOr<size_t> have = r->Ensure(3);
  if (!have.ok()) return have.status();
  if (*have == 0 && !options.allow_empty) {
    return absl::InvalidArgumentError(
        fmt::format("{}: empty file: no records (an event log holds at least one)", path));
  }
  r->format_ = options.format;
  if (r->format_ == EventLogFormat::kAuto) {
    const char* p = r->buf_.data();
    bool json = JsonByName(path);
    if (!json && *have >= 2 && p[0] == '{') {
      // '{' is also a plausible first length byte (123) of a delimited
      // record, but then the next byte is a LoggedRecord tag, never one of these.
      json = std::strchr("\"}\n\r\t", p[1]) != nullptr;
    }
    r->format_ = json ? EventLogFormat::kJsonLines : EventLogFormat::kDelimited;
  }
  if (r->format_ == EventLogFormat::kJsonLines && *have >= 3 &&
      std::memcmp(r->buf_.data(), "\xEF\xBB\xBF", 3) == 0) {
    r->pos_ = 3;  // a UTF-8 byte-order mark
  }
  return r;
}

absl::StatusOr<size_t> EventLogReader::Ensure(size_t n) {
  while (end_ - pos_ < n && !eof_) {
    if (pos_ > 0 && (buf_.size() - end_ < n || pos_ == end_)) {
      // Compact: move the unread tail to the front.
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      buf_offset_ += pos_;
      end_ -= pos_;
      pos_ = 0;
    }
    if (buf_.size() - pos_ < n) buf_.resize(std::max(buf_.size() * 2, pos_ + n));
    absl::StatusOr<size_t> got = file_->Read(buf_.data() + end_, buf_.size() - end_);
    if (!got.ok()) return got.status();
    if (*got == 0) eof_ = true;
    end_ += *got;
  }
  return std::min(n, end_ - pos_);
}

absl::Status EventLogReader::Corrupt(uint64_t offset, std::string_view what) const {
  return absl::DataLossError(fmt::format(
      "{}: {} at byte offset {}{} (record {}); the {} records before it were read", name(), what,
      offset, compression() == Compression::kNone ? "" : " of the decompressed stream",
      records_ + 1, records_));
}

absl::StatusOr<bool> EventLogReader::Next(SourceRecord* record) {
  if (format_ == EventLogFormat::kJsonLines) return NextJson(record);
  return NextDelimited(record);
}

absl::StatusOr<bool> EventLogReader::NextDelimited(SourceRecord* record) {
  absl::StatusOr<size_t> have = Ensure(kMaxVarint);
  if (!have.ok()) return have.status();
  if (*have == 0) return false;
  const uint64_t offset = buf_offset_ + pos_;
  uint64_t len;
  const int n = ReadVarint(buf_.data() + pos_, buf_.data() + end_, &len);
  if (n == 0) return Corrupt(offset, "truncated length prefix");
  if (n < 0) return Corrupt(offset, "bad length prefix (not a varint)");
  if (len > options_.max_record_bytes) {
    return Corrupt(offset, fmt::format("record length {} over the limit of {} bytes (corrupt "
                                       "length, or not a length-delimited event log)",
                                       len, options_.max_record_bytes));
  }
  have = Ensure(static_cast<size_t>(n) + len);
  if (!have.ok()) return have.status();
  if (*have < n + len) {
    return Corrupt(offset,
                   fmt::format("truncated record: its length says {} bytes, only {} remain",
                               len, *have - static_cast<size_t>(n)));
  }
  const char* p = buf_.data() + pos_ + n;
  const std::string_view problem = DecodeLoggedRecord(p, p + len, record);
  if (!problem.empty()) {
    return Corrupt(offset, fmt::format("not a LoggedRecord ({})", problem));
  }
  pos_ += static_cast<size_t>(n) + len;
  record_offset_ = offset;
  ++records_;
  return true;
}

absl::StatusOr<bool> EventLogReader::NextJson(SourceRecord* record) {
  while (true) {
    if (json_next_ < json_lines_.size()) {
      const size_t i = json_next_++;
      line_ = json_line_numbers_[i];
      const absl::Status& st = json_statuses_[i];
      if (!st.ok()) {
        if (options_.rejects == nullptr) {
          return absl::InvalidArgumentError(
              fmt::format("{}:{}: {}", name(), line_, std::string(st.message())));
        }
        ++rejected_;
        options_.rejects->Reject(name(), fmt::format("line {}", line_), std::string(st.message()));
        continue;
      }
      const v1::LoggedRecord& r = json_records_[i];
      record->kind = r.kind();
      record->key = r.key();
      record->value = r.value();
      record->timestamp_unix_ms = r.timestamp_unix_ms();
      ++records_;
      return true;
    }
    // An error met while reading ahead comes after the lines before it.
    if (!json_pending_.ok()) return std::exchange(json_pending_, absl::OkStatus());
    if (!ReadJsonLines()) return false;
  }
}

bool EventLogReader::ReadJsonLines() {
  // Lines parsed together (ParseEventLogJsonLines): about this many, so that
  // memory stays small whatever the file's size.
  constexpr size_t kLines = 256;
  constexpr size_t kBytes = 1 << 20;
  json_lines_.clear();
  json_line_numbers_.clear();
  json_next_ = 0;
  size_t bytes = 0;
  auto too_long = [this] {
    return absl::InvalidArgumentError(fmt::format("{}:{}: line longer than {} bytes", name(),
                                                  json_lines_read_ + 1, options_.max_record_bytes));
  };
  while (json_lines_.size() < kLines && bytes < kBytes) {
    // Find the end of the line, reading more as needed.
    size_t scanned = 0;
    const char* nl = nullptr;
    while (true) {
      nl = static_cast<const char*>(
          std::memchr(buf_.data() + pos_ + scanned, '\n', end_ - pos_ - scanned));
      if (nl != nullptr || eof_) break;
      scanned = end_ - pos_;
      if (scanned > options_.max_record_bytes) {
        json_pending_ = too_long();
        break;
      }
      absl::StatusOr<size_t> have = Ensure(scanned + 64 * 1024);
      if (!have.ok()) {
        json_pending_ = have.status();
        break;
      }
    }
    if (!json_pending_.ok() || pos_ == end_) break;
    const size_t line_end = nl != nullptr ? static_cast<size_t>(nl - buf_.data()) : end_;
    // The limit holds for a line found in what was already read, too.
    if (line_end - pos_ > options_.max_record_bytes) {
      json_pending_ = too_long();
      break;
    }
    std::string_view line(buf_.data() + pos_, line_end - pos_);
    pos_ = nl != nullptr ? line_end + 1 : end_;
    ++json_lines_read_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
    // A copy: reading on may move the buffer.
    json_lines_.emplace_back(line);
    json_line_numbers_.push_back(json_lines_read_);
    bytes += line.size();
  }
  if (json_lines_.empty()) return false;
  std::vector<std::string_view> views(json_lines_.begin(), json_lines_.end());
  ParseEventLogJsonLines(views, &json_records_, &json_statuses_);
  return true;
}

RecordPosition EventLogReader::Position() const {
  if (format_ == EventLogFormat::kJsonLines) return RecordPosition{line_, -1};
  return RecordPosition{records_, static_cast<int64_t>(record_offset_)};
}

std::string EventLogReader::Describe(const RecordPosition& position) const {
  if (format_ == EventLogFormat::kJsonLines) return fmt::format("line {}", position.number);
  return fmt::format("record {} at byte offset {}", position.number, position.byte_offset);
}

}  // namespace roadpulse
