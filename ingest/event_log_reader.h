// EventLogReader: streams the records of an event-log file, in either format
//  - length-delimited: varint-length-prefixed roadpulse.v1.LoggedRecord
//    (what `roadpulse generate --output` and `roadpulse export` write);
//  - JSON Lines: one roadpulse.v1.EventLogLine per line in protobuf's
//    canonical JSON mapping (see ingest/event_log_json.h, ingest/README.md);
// either optionally gzip- or zstd-compressed (detected by magic bytes).
//
// Memory does not depend on the file size: one buffer (1 MiB, growing only to
// the largest record). The length-delimited path decodes LoggedRecord's wire
// format in place, without copies, for replay speed.
//
// Usage:
//   absl::StatusOr<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, {});
//   SourceRecord rec;
//   while (true) {
//     absl::StatusOr<bool> more = (*r)->Next(&rec);
//     if (!more.ok()) ...   // names the file and the byte offset / line
//     if (!*more) break;
//     ... rec.kind, rec.key, rec.value, rec.timestamp_unix_ms ...
//   }
#ifndef ROADPULSE_INGEST_EVENT_LOG_READER_H_
#define ROADPULSE_INGEST_EVENT_LOG_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/compressed_file.h"
#include "ingest/record_source.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

enum class EventLogFormat : uint8_t {
  kAuto,       // JSON Lines when the name ends in .jsonl/.ndjson/.json (before any
               // .gz/.zst) or the content starts with '{"' ; length-delimited otherwise
  kDelimited,  // varint-length-prefixed LoggedRecord
  kJsonLines,  // one EventLogLine per line
};

// "auto", "delimited", "jsonl".
std::string_view EventLogFormatName(EventLogFormat format);

struct EventLogReaderOptions {
  EventLogFormat format = EventLogFormat::kAuto;
  // A record (or JSON line) longer than this is an error (a corrupt length).
  size_t max_record_bytes = 64u << 20;
  // An empty file (no bytes after decompression) is an error unless set.
  bool allow_empty = false;
  // Where JSON lines that do not parse go (line number and reason); they are
  // skipped and the lines after them still count. nullptr: such a line is an
  // error that stops the read. Borrowed; must outlive the reader.
  RejectSink* rejects = nullptr;
};

class EventLogReader final : public RecordSource {
 public:
  // kNotFound etc. name the file.
  static absl::StatusOr<std::unique_ptr<EventLogReader>> Open(const std::string& path,
                                                              const EventLogReaderOptions& options);

  // Errors: kDataLoss for a stream cut inside a record ("truncated record at
  // byte offset N: its length says L bytes, M remain; the K records before it
  // were read"), for corrupt compression, and for bytes that are not a
  // LoggedRecord; kInvalidArgument for an empty file and (without a
  // RejectSink) a bad JSON line. Every message starts with the file name.
  absl::StatusOr<bool> Next(SourceRecord* record) override;

  const std::string& name() const override { return file_->path(); }
  RecordPosition Position() const override;
  std::string Describe(const RecordPosition& position) const override;
  uint64_t file_bytes_read() const override { return file_->file_bytes_read(); }
  uint64_t file_size() const override { return file_->file_size(); }
  int64_t rejected() const override { return rejected_; }

  EventLogFormat format() const { return format_; }
  Compression compression() const { return file_->compression(); }
  // Records returned so far.
  int64_t records() const { return records_; }

 private:
  EventLogReader(std::unique_ptr<CompressedFileReader> file, EventLogReaderOptions options);
  // Makes at least `n` bytes available from pos_ unless the stream ends first;
  // returns the bytes available.
  absl::StatusOr<size_t> Ensure(size_t n);
  absl::StatusOr<bool> NextDelimited(SourceRecord* record);
  absl::StatusOr<bool> NextJson(SourceRecord* record);
  // JSON: reads the next lines into json_lines_ and parses them; false when
  // none is left (json_pending_ then holds any error met).
  bool ReadJsonLines();
  absl::Status Corrupt(uint64_t offset, std::string_view what) const;

  std::unique_ptr<CompressedFileReader> file_;
  EventLogReaderOptions options_;
  EventLogFormat format_ = EventLogFormat::kDelimited;
  std::vector<char> buf_;
  size_t pos_ = 0;           // next unread byte in buf_
  size_t end_ = 0;           // end of valid bytes in buf_
  bool eof_ = false;         // the stream has no more bytes beyond end_
  uint64_t buf_offset_ = 0;  // stream offset of buf_[0]
  uint64_t record_offset_ = 0;  // stream offset of the last record returned
  int64_t line_ = 0;            // JSON: line number of the last line returned
  int64_t records_ = 0;
  int64_t rejected_ = 0;
  // JSON: lines read ahead and parsed together; the record returned points
  // into json_records_.
  int64_t json_lines_read_ = 0;
  std::vector<std::string> json_lines_;
  std::vector<int64_t> json_line_numbers_;
  std::vector<v1::LoggedRecord> json_records_;
  std::vector<absl::Status> json_statuses_;
  size_t json_next_ = 0;
  absl::Status json_pending_;  // an error met reading ahead, after the lines before it
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_EVENT_LOG_READER_H_
