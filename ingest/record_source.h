// RecordSource: input records read from a file (an event log, or a CSV file
// through a mapping), one at a time, as they would be on Kafka. The replay,
// inspect and export commands read every kind of input through it.
#ifndef ROADPULSE_INGEST_RECORD_SOURCE_H_
#define ROADPULSE_INGEST_RECORD_SOURCE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

// One input record. The views stay valid until the source's next Next() call.
struct SourceRecord {
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  std::string_view key;    // record key (the event id)
  std::string_view value;  // serialized IncidentEvent / ViolationEvent (possibly bad input)
  int64_t timestamp_unix_ms = 0;  // record time; 0 when unknown
};

// Where rejected input units (a CSV row that does not map, a JSON line that
// does not parse) go. Implementations count them; RejectFile writes them.
class RejectSink {
 public:
  virtual ~RejectSink() = default;
  // `source` is the file, `where` the position in it ("line 12"), `reason`
  // says why in words.
  virtual void Reject(std::string_view source, std::string_view where,
                      std::string_view reason) = 0;
};

// Thread-compatible; one thread calls Next().
// Where a record is in its file; RecordSource::Describe words it.
struct RecordPosition {
  int64_t number = 0;        // the line (text formats) or the record, from 1
  int64_t byte_offset = -1;  // where the record starts, where that is told
};

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // Reads the next record into *record: true, or false at the end. An error
  // (kDataLoss for a truncated or corrupt stream, kInvalidArgument for input
  // that cannot be read on) names the file and the byte offset or line;
  // records returned before it stay valid and count.
  virtual absl::StatusOr<bool> Next(SourceRecord* record) = 0;
  // The file's name, as given.
  virtual const std::string& name() const = 0;
  // Position of the record Next() returned last, in numbers, and in words
  // ("line 12" or "record 5 at byte offset 300"). A position can be worded
  // later, while the source lives (a replay on worker threads refuses a
  // record after the source has read on).
  virtual RecordPosition Position() const = 0;
  virtual std::string Describe(const RecordPosition& position) const = 0;
  std::string Where() const { return Describe(Position()); }
  // For progress and ETA: bytes of the file consumed so far, and its size
  // (0 when unknown).
  virtual uint64_t file_bytes_read() const = 0;
  virtual uint64_t file_size() const = 0;
  // Input units rejected so far (each was passed to the RejectSink).
  virtual int64_t rejected() const = 0;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_RECORD_SOURCE_H_
