// EventLogWriter: writes an event-log file that EventLogReader reads back:
// length-delimited LoggedRecord or JSON Lines (EventLogLine), optionally
// gzip- or zstd-compressed. Used by `roadpulse export` and, through
// FileEventWriter, `roadpulse generate --output`.
#ifndef ROADPULSE_INGEST_EVENT_LOG_WRITER_H_
#define ROADPULSE_INGEST_EVENT_LOG_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ingest/compressed_file.h"
#include "ingest/event_log_json.h"
#include "ingest/event_log_reader.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

namespace ingest_internal {
class Compressor;
}  // namespace ingest_internal

struct EventLogWriterOptions {
  // kAuto: JSON Lines when the name ends in .jsonl/.ndjson/.json (before any
  // .gz/.zst), length-delimited otherwise.
  EventLogFormat format = EventLogFormat::kAuto;
  // nullopt: by the name's ending (.gz, .zst), none otherwise.
  std::optional<Compression> compression;
  // zlib level 1-9 / zstd level 1-19.
  int level = 3;
};

// Thread-compatible.
//
// A regular file appears under its name only once complete: the records go
// to `<path>.partial` (format and compression still follow `path`'s name),
// which Close() renames to `path`. A write that fails or is given up (the
// writer destroyed without Close) removes the partial file and leaves a file
// already at `path` as it was, so a cut-short export is never mistaken for a
// whole one. "-" (standard output), and a `path` that exists and is not a
// regular file (a device, a FIFO, a symbolic link), are written directly.
class EventLogWriter {
 public:
  static absl::StatusOr<std::unique_ptr<EventLogWriter>> Create(const std::string& path,
                                                                const EventLogWriterOptions& options);
  // Without Close(): removes the partial file.
  ~EventLogWriter();

  // `position` is written into JSON lines only.
  absl::Status Write(v1::EventKind kind, std::string_view key, std::string_view value,
                     int64_t timestamp_unix_ms,
                     const std::optional<KafkaPosition>& position = std::nullopt);
  // Hands the bytes written so far to the operating system (for a compressed
  // stream, those the compressor has emitted); a regular file keeps its
  // partial name until Close().
  absl::Status Flush();
  // Finishes the compressed stream, closes the file and gives it its name.
  // Call once, last; on an error nothing is left under either name.
  absl::Status Close();

  EventLogFormat format() const { return format_; }
  Compression compression() const { return compression_; }
  int64_t records() const { return records_; }

 private:
  EventLogWriter() = default;
  absl::Status Emit(std::string_view bytes);

  std::string path_;
  std::string partial_path_;  // empty: writing to path_ directly
  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  EventLogFormat format_ = EventLogFormat::kDelimited;
  Compression compression_ = Compression::kNone;
  std::unique_ptr<ingest_internal::Compressor> compressor_;
  std::string scratch_;
  v1::LoggedRecord record_;
  int64_t records_ = 0;
  bool closed_ = false;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_EVENT_LOG_WRITER_H_
