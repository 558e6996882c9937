// libFuzzer target for event-log files (ingest/event_log_reader.h,
// ingest/event_log_json.h, ingest/event_log_writer.h). Input bytes: the
// content of an event-log file, as is: length-delimited LoggedRecords or JSON
// Lines, possibly gzip- or zstd-compressed.
//
// The file is read with the format detected (auto; bad JSON lines go to a
// RejectSink) to its end or to its first error. Then:
//  1. the records read are written back with EventLogWriter, as JSON Lines
//     when some are of a known kind (those), else length-delimited, and read
//     back;
//  2. uncompressed input is read again behind a filler record (or blank
//     line) that ends kTail bytes short of the reader's 1 MiB buffer, so that
//     records cross the buffer's end (compaction and growth).
// Checked: errors have the documented codes and start with the file name;
// records() counts what Next returned; rejected() counts what the sink got;
// the records written back read back the same (in JSON an empty key reads
// back as the event's id, by design, so an empty key is not compared there);
// the filler read returns the same records and ends the same way.
//
// Every reader allocates its 1 MiB buffer afresh, which ASan maps and the
// kernel faults in page by page: the slowest part of an input, so each input
// opens at most three readers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ingest/event_log_reader.h"
#include "ingest/event_log_writer.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse {
namespace {

constexpr size_t kReaderBuffer = 1u << 20;  // EventLogReader's first buffer
constexpr size_t kTail = 100;               // input bytes inside the first buffer

struct Record {
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  std::string key;
  std::string value;
  int64_t timestamp_unix_ms = 0;
  friend bool operator==(const Record& a, const Record& b) {
    return a.kind == b.kind && a.key == b.key && a.value == b.value &&
           a.timestamp_unix_ms == b.timestamp_unix_ms;
  }
};

struct ReadResult {
  bool opened = false;
  absl::Status status;  // how the read ended (Open's error when !opened)
  EventLogFormat format = EventLogFormat::kAuto;  // as detected
  Compression compression = Compression::kNone;
  std::vector<Record> records;
};

class CountingSink final : public RejectSink {
 public:
  void Reject(std::string_view source, std::string_view where, std::string_view reason) override {
    FUZZ_CHECK(!reason.empty());
    ++count;
  }
  int64_t count = 0;
};

bool IsKnownKind(v1::EventKind kind) {
  return kind == v1::EVENT_KIND_INCIDENT || kind == v1::EVENT_KIND_VIOLATION;
}

void CheckError(const absl::Status& s, const std::string& path) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kDataLoss ||
             s.code() == absl::StatusCode::kInvalidArgument);
  FUZZ_CHECK(fuzz::StartsWith(s.message(), path));
}

// `filler`: the file starts with FillerFile's filler, which is checked, not kept.
ReadResult Read(const std::string& path, EventLogFormat format, bool with_sink,
                bool filler = false) {
  ReadResult out;
  CountingSink sink;
  EventLogReaderOptions options;
  options.format = format;
  options.max_record_bytes = 4u << 20;
  options.rejects = with_sink ? &sink : nullptr;
  absl::StatusOr<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, options);
  if (!r.ok()) {
    CheckError(r.status(), path);
    out.status = r.status();
    return out;
  }
  out.opened = true;
  EventLogReader& reader = **r;
  out.compression = reader.compression();
  out.format = reader.format();
  FUZZ_CHECK(out.format != EventLogFormat::kAuto);
  FUZZ_CHECK(format == EventLogFormat::kAuto || out.format == format);
  SourceRecord rec;
  if (filler && out.format == EventLogFormat::kDelimited) {
    absl::StatusOr<bool> more = reader.Next(&rec);
    FUZZ_CHECK(more.ok() && *more && rec.key.size() > kReaderBuffer / 2);
  }
  const int64_t skipped = reader.records();
  while (true) {
    absl::StatusOr<bool> more = reader.Next(&rec);
    if (!more.ok()) {
      CheckError(more.status(), path);
      out.status = more.status();
      break;
    }
    if (!*more) break;
    out.records.push_back(Record{rec.kind, std::string(rec.key), std::string(rec.value),
                                 rec.timestamp_unix_ms});
    FUZZ_CHECK(reader.records() == skipped + static_cast<int64_t>(out.records.size()));
    (void)reader.Where();
  }
  FUZZ_CHECK(reader.records() == skipped + static_cast<int64_t>(out.records.size()));
  FUZZ_CHECK(reader.rejected() == sink.count);
  FUZZ_CHECK(reader.file_bytes_read() <= reader.file_size());
  return out;
}

// Writes `records` with EventLogWriter in `format` and reads them back.
void CheckWriteBack(const std::vector<Record>& records, EventLogFormat format,
                    fuzz::ScratchFile& file) {
  std::vector<Record> expected;
  for (const Record& r : records) {
    if (format == EventLogFormat::kJsonLines && !IsKnownKind(r.kind)) continue;
    expected.push_back(r);
  }
  if (expected.empty()) return;
  EventLogWriterOptions options;
  options.format = format;
  options.compression = Compression::kNone;
  absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(file.path(), options);
  FUZZ_CHECK(w.ok());
  for (const Record& r : expected) {
    FUZZ_CHECK((*w)->Write(r.kind, r.key, r.value, r.timestamp_unix_ms).ok());
  }
  FUZZ_CHECK((*w)->Close().ok());
  const ReadResult back = Read(file.path(), format, /*with_sink=*/false);
  FUZZ_CHECK(back.status.ok());
  FUZZ_CHECK(back.records.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    Record want = expected[i];
    if (format == EventLogFormat::kJsonLines && want.key.empty()) want.key = back.records[i].key;
    FUZZ_CHECK(back.records[i] == want);
  }
}

// A file whose first kReaderBuffer - kTail bytes are filler, followed by the
// input. The filler is written once; each input rewrites the tail only.
class FillerFile {
 public:
  explicit FillerFile(EventLogFormat format) : file_("event_log_filler") {
    const size_t size = kReaderBuffer - kTail;
    std::string filler;
    if (format == EventLogFormat::kJsonLines) {
      filler.assign(size - 1, ' ');  // a blank line: skipped
      filler.push_back('\n');
    } else {
      // One LoggedRecord {key: "xxx..."}: prefix(3) tag(1) length(3) key.
      const size_t key_len = size - 7;
      v1::LoggedRecord r;
      r.set_kind(v1::EVENT_KIND_INCIDENT);
      r.set_key(std::string(key_len - 2, 'x'));  // kind takes 2 bytes
      std::string body = r.SerializeAsString();
      std::string prefix;
      for (size_t n = body.size(); true; n >>= 7) {
        prefix.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
        if (n < 0x80) break;
      }
      filler = prefix + body;
      FUZZ_CHECK(filler.size() == size);
    }
    file_.Write(filler);
  }
  const std::string& Fill(std::string_view input) {
    file_.Truncate(kReaderBuffer - kTail);
    file_.WriteAt(kReaderBuffer - kTail, input);
    return file_.path();
  }

 private:
  fuzz::ScratchFile file_;
};

// The filler read must return exactly what the plain read returned.
void CheckSameAsPlain(const ReadResult& plain, const ReadResult& filled) {
  FUZZ_CHECK(filled.opened);
  FUZZ_CHECK(filled.records == plain.records);
  FUZZ_CHECK(filled.status.code() == plain.status.code());
}

int TestOneInput(const uint8_t* data, size_t size) {
  fuzz::QuietProtobufLogs();
  static auto* input = new fuzz::ScratchFile("event_log");
  static auto* out = new fuzz::ScratchFile("event_log_out");
  static auto* delimited_filler = new FillerFile(EventLogFormat::kDelimited);
  static auto* json_filler = new FillerFile(EventLogFormat::kJsonLines);
  const std::string_view bytes = fuzz::AsText(data, size);
  input->Write(bytes);

  const ReadResult read = Read(input->path(), EventLogFormat::kAuto, /*with_sink=*/true);
  bool known_kind = false;
  for (const Record& r : read.records) known_kind = known_kind || IsKnownKind(r.kind);
  CheckWriteBack(read.records,
                 known_kind ? EventLogFormat::kJsonLines : EventLogFormat::kDelimited, *out);
  if (size == 0 || !read.opened || read.compression != Compression::kNone) return 0;
  if (read.format == EventLogFormat::kDelimited) {
    CheckSameAsPlain(read, Read(delimited_filler->Fill(bytes), EventLogFormat::kDelimited,
                                /*with_sink=*/true, /*filler=*/true));
  } else {
    // A byte-order mark is skipped at the start of a file only.
    const std::string_view lines =
        fuzz::StartsWith(bytes, "\xEF\xBB\xBF") ? bytes.substr(3) : bytes;
    CheckSameAsPlain(read, Read(json_filler->Fill(lines), EventLogFormat::kJsonLines,
                                /*with_sink=*/true, /*filler=*/true));
  }
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
