// `roadpulse export`: writes a time range of the input topics to an event-log
// file (length-delimited LoggedRecord or JSON Lines, optionally gzip/zstd),
// for archiving; `roadpulse replay FILE` counts it later. Records keep their
// key, value bytes and Kafka timestamp.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/replay_support.h"
#include "app/scenario.h"
#include "fmt/format.h"
#include "ingest/event_log_writer.h"
#include "ingest/topic_reader.h"
#include "processors/region_table.h"

namespace roadpulse {
namespace {

struct ExportFlags {
  std::string bootstrap_servers;
  std::vector<std::string> topics;
  std::string from;
  std::string to;
  std::string output;
  std::string format = "auto";
  std::string compression = "auto";
  std::string regions;
  std::string incidents_topic = "roadpulse.incidents";
  std::string violations_topic = "roadpulse.violations";
  std::vector<std::string> properties;
};

int Fail(std::string_view message) {
  fmt::print(stderr, "roadpulse export: {}\n", message);
  return 2;
}

int RunExport(const ExportFlags& f) {
  // Checked here, not by CLI11, so that a bad flag is named before a missing one.
  if (f.bootstrap_servers.empty()) return Fail("--bootstrap-servers is required");
  if (f.output.empty()) return Fail("--output is required");
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(f.regions.empty() ? DefaultRegionTablePath() : f.regions);
  if (!regions.ok()) return Fail(Msg(regions.status()));
  const absl::TimeZone& tz = regions->zone();
  TopicFlags flags{f.bootstrap_servers, f.topics, f.properties, f.from, f.to, "--from", "--to"};
  if (absl::Status s = DefaultToInputTopics(&flags.topics, f.incidents_topic, f.violations_topic);
      !s.ok()) {
    return Fail(Msg(s));
  }
  absl::StatusOr<TopicReaderOptions> to = TopicReaderOptionsFromFlags(flags, tz);
  if (!to.ok()) return Fail(Msg(to.status()));
  EventLogWriterOptions wo;
  if (f.format == "delimited") wo.format = EventLogFormat::kDelimited;
  if (f.format == "jsonl") wo.format = EventLogFormat::kJsonLines;
  if (f.compression == "none") wo.compression = Compression::kNone;
  if (f.compression == "gzip") wo.compression = Compression::kGzip;
  if (f.compression == "zstd") wo.compression = Compression::kZstd;

  absl::StatusOr<std::unique_ptr<TopicReader>> reader = TopicReader::Create(*to);
  if (!reader.ok()) return Fail(Msg(reader.status()));
  absl::StatusOr<std::unique_ptr<EventLogWriter>> writer = EventLogWriter::Create(f.output, wo);
  if (!writer.ok()) return Fail(Msg(writer.status()));
  Progress progress("export", 0, (*reader)->total());
  int64_t n = 0;
  absl::Status st = (*reader)->ReadAll([&](const TopicRecord& r) {
    const v1::EventKind kind =
        r.topic == f.violations_topic ? v1::EVENT_KIND_VIOLATION : v1::EVENT_KIND_INCIDENT;
    progress.Update(++n, 0);
    return (*writer)->Write(kind, r.key, r.value, std::max<int64_t>(r.timestamp_unix_ms, 0),
                            KafkaPosition{std::string(r.topic), r.partition, r.offset});
  });
  progress.Finish(n, 0);
  absl::Status closed = (*writer)->Close();
  if (!st.ok()) return Fail(Msg(st));
  if (!closed.ok()) return Fail(Msg(closed));
  fmt::print(stderr, "export: {} records from {} partitions to {} ({}, compression {}) in {:.2f} s\n",
             n, (*reader)->ranges().size(), f.output, EventLogFormatName((*writer)->format()),
             CompressionName((*writer)->compression()), progress.elapsed_s());
  if (n == 0) fmt::print(stderr, "export: warning: the range holds no records\n");
  return 0;
}

}  // namespace

void AddExportCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write a time range of the input topics to an event-log file for archiving\n"
      "(length-delimited LoggedRecord, or JSON Lines for .jsonl; gzip for .gz, zstd for .zst).\n"
      "`roadpulse replay FILE` counts it later.");
  cmd->add_option("--bootstrap-servers", flags->bootstrap_servers, "Kafka bootstrap servers (required)");
  cmd->add_option("--topic", flags->topics, "Topic to export (repeatable; default: both input topics)");
  cmd->add_option("--from", flags->from,
                  "First record time (YYYY-MM-DD local midnight, RFC 3339, or Unix ms), found "
                  "with offsetsForTimes (default: the beginning)");
  cmd->add_option("--to", flags->to, "Record time to stop before (same forms; default: the current end)");
  cmd->add_option("--output", flags->output, "Event-log file to write (\"-\": stdout; required)");
  cmd->add_option("--format", flags->format, "auto (by the name), delimited or jsonl")
      ->check(CLI::IsMember({"auto", "delimited", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--compression", flags->compression, "auto (by the name), none, gzip or zstd")
      ->check(CLI::IsMember({"auto", "none", "gzip", "zstd"}))
      ->capture_default_str();
  cmd->add_option("--regions", flags->regions, "Region table (its time zone reads dates)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--incidents-topic", flags->incidents_topic, "Topic of accidents")
      ->capture_default_str();
  cmd->add_option("--violations-topic", flags->violations_topic, "Topic of violations")
      ->capture_default_str();
  cmd->add_option("-X", flags->properties, "Raw librdkafka consumer property KEY=VALUE");
  cmd->callback([flags, exit_code] { *exit_code = RunExport(*flags); });
}

}  // namespace roadpulse
