#include "app/event_writer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace roadpulse {

absl::StatusOr<std::unique_ptr<FileEventWriter>> FileEventWriter::Create(const std::string& path) {
  absl::StatusOr<std::unique_ptr<EventLogWriter>> log = EventLogWriter::Create(path, {});
  if (!log.ok()) return log.status();
  return std::unique_ptr<FileEventWriter>(new FileEventWriter(*std::move(log)));
}

absl::Status FileEventWriter::Write(v1::EventKind kind, std::string_view key,
                                    std::string_view value, int64_t timestamp_unix_ms) {
  return log_->Write(kind, key, value, timestamp_unix_ms);
}

absl::Status FileEventWriter::Flush() { return log_->Flush(); }

absl::Status FileEventWriter::Close() { return log_->Close(); }

absl::Status KafkaEventWriter::Write(v1::EventKind kind, std::string_view key,
                                     std::string_view value, int64_t /*timestamp_unix_ms*/) {
  const std::string* topic;
  switch (kind) {
    case v1::EVENT_KIND_INCIDENT:
      topic = &options_.incidents_topic;
      break;
    case v1::EVENT_KIND_VIOLATION:
      topic = &options_.violations_topic;
      break;
    case v1::EVENT_KIND_UNSPECIFIED:
    default:
      return absl::InvalidArgumentError(absl::StrCat("no topic for event kind ", kind));
  }
  // A delivery failure already reported stops the writing here.
  absl::Status st = producer_.InFlight() >= options_.max_in_flight
                        ? WaitForDeliveries(options_.max_in_flight / 2, absl::InfiniteFuture())
                        : producer_.Poll(absl::ZeroDuration());
  if (!st.ok()) return st;
  return producer_.Produce(*topic, key, value);
}

absl::Status KafkaEventWriter::Flush() {
  const absl::Time deadline = absl::Now() + options_.flush_timeout;
  if (absl::Status st = WaitForDeliveries(0, deadline); !st.ok()) return st;
  // Whatever is left when the time is up is its timeout error.
  return producer_.Flush(std::max(deadline - absl::Now(), absl::ZeroDuration()));
}

absl::Status KafkaEventWriter::WaitForDeliveries(int64_t limit, absl::Time deadline) {
  const absl::Time started = absl::Now();
  while (producer_.InFlight() > limit && absl::Now() < deadline) {
    if (absl::Status st = producer_.Poll(absl::Milliseconds(100)); !st.ok()) return st;
    const int64_t left = producer_.InFlight();
    if (options_.give_up != nullptr && options_.give_up->load()) {
      producer_.Purge();
      return absl::CancelledError(
          absl::StrCat("stopped while ", left, " records were not yet delivered"));
    }
    if (options_.stop != nullptr && options_.stop->load() && !said_waiting_ && left > limit &&
        absl::Now() - started >= absl::Seconds(1)) {
      said_waiting_ = true;
      spdlog::warn("stopping: waiting for the cluster to take {} records; stop again to give up",
                   left);
    }
  }
  return absl::OkStatus();
}

}  // namespace roadpulse
