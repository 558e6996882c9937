// The dead-letter queue's headers: what a worker writes on every record it
// refuses (ingest/worker.h), and reading them back from the DLQ topic
// (`roadpulse inspect --topic roadpulse.dlq`). docs/operations.md, "The
// dead-letter queue", describes them for users.
#ifndef ROADPULSE_INGEST_DEAD_LETTER_H_
#define ROADPULSE_INGEST_DEAD_LETTER_H_

#include <cstddef>
#include <optional>

#include "ingest/event_log_json.h"
#include "ingest/topic_reader.h"
#include "roadpulse/v1/event_log.pb.h"

namespace roadpulse {

// DLQ headers added to every dead-lettered record (before its own headers).
inline constexpr char kDlqReasonHeader[] = "roadpulse.reason";  // RejectReasonName
inline constexpr char kDlqDetailHeader[] = "roadpulse.detail";  // human-readable
inline constexpr char kDlqSourceTopicHeader[] = "roadpulse.source.topic";
inline constexpr char kDlqSourcePartitionHeader[] = "roadpulse.source.partition";  // decimal
inline constexpr char kDlqSourceOffsetHeader[] = "roadpulse.source.offset";        // decimal
// Only on a record too large for the DLQ producer (its message.max.bytes):
// the size of the value, in decimal bytes. Such a dead letter carries the
// headers above (the detail cut to kDlqKeptBytes), not the value nor the
// record's own headers, and the key only if it is at most kDlqKeptBytes
// (otherwise kDlqKeyOmittedHeader gives its size). The original stays at its
// source offset until the source topic's retention.
inline constexpr char kDlqValueOmittedHeader[] = "roadpulse.value_omitted";
// Added by `roadpulse redrive` to each record it re-produces: the dead
// letter it came from, "TOPIC[PARTITION]@OFFSET". A record refused again
// keeps it among its own headers, so a later redrive knows the dead letter is
// a copy of one it redrives anyway.
inline constexpr char kRedrivenFromHeader[] = "roadpulse.redriven_from";
inline constexpr char kDlqKeyOmittedHeader[] = "roadpulse.key_omitted";
inline constexpr size_t kDlqKeptBytes = 1024;

// A dead letter read back: its roadpulse.* headers and where it was read
// (the DLQ topic, partition, offset), and the refused record's own place.
struct DeadLetterRecord {
  v1::DeadLetter dead_letter;
  // From the roadpulse.source.* headers; nullopt when one is missing or not a
  // number.
  std::optional<KafkaPosition> source;
};

// Reads the kDlq* headers of `record` (read with TopicReaderOptions::headers).
// nullopt when it has no kDlqReasonHeader: not a roadpulse dead letter. The
// first header of each name counts (the worker writes its own before the
// record's); a number header that does not parse is left out.
std::optional<DeadLetterRecord> ReadDeadLetter(const TopicRecord& record);

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_DEAD_LETTER_H_
