#include "app/event_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "spdlog/spdlog.h"

namespace roadpulse {

FileEventWriter::FileEventWriter(std::string path, std::unique_ptr<std::ofstream> file)
    : path_(std::move(path)), file_(std::move(file)), out_(file_ ? *file_ : std::cout) {}

absl::StatusOr<std::unique_ptr<FileEventWriter>> FileEventWriter::Create(const std::string& path) {
  if (path == "-") return std::unique_ptr<FileEventWriter>(new FileEventWriter("stdout", nullptr));
  auto file = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*file) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open for writing: ", std::strerror(errno)));
  }
  return std::unique_ptr<FileEventWriter>(new FileEventWriter(path, std::move(file)));
}

absl::Status FileEventWriter::Write(v1::EventKind kind, std::string_view key,
                                    std::string_view value, int64_t timestamp_unix_ms) {
  record_.set_kind(kind);
  record_.set_key(key.data(), key.size());
  record_.set_value(value.data(), value.size());
  record_.set_timestamp_unix_ms(timestamp_unix_ms);
  if (!google::protobuf::util::SerializeDelimitedToOstream(record_, &out_) || !out_) {
    return absl::DataLossError(absl::StrCat(path_, ": write failed"));
  }
  return absl::OkStatus();
}

absl::Status FileEventWriter::Flush() {
  out_.flush();
  if (!out_) return absl::DataLossError(absl::StrCat(path_, ": flush failed"));
  return absl::OkStatus();
}

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
