#include "app/event_writer.h"

#include <cerrno>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/delimited_message_util.h"

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
  switch (kind) {
    case v1::EVENT_KIND_INCIDENT:
      return producer_.Produce(options_.incidents_topic, key, value);
    case v1::EVENT_KIND_VIOLATION:
      return producer_.Produce(options_.violations_topic, key, value);
    case v1::EVENT_KIND_UNSPECIFIED:
    default:
      return absl::InvalidArgumentError(absl::StrCat("no topic for event kind ", kind));
  }
}

absl::Status KafkaEventWriter::Flush() { return producer_.Flush(options_.flush_timeout); }

}  // namespace roadpulse
