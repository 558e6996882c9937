// `roadpulse export`: writes a time range of the input topics to an event-log
// file (length-delimited LoggedRecord or JSON Lines, optionally gzip/zstd),
// for archiving; `roadpulse replay FILE` counts it later. Records keep their
// key, value bytes and Kafka timestamp.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/config_cli.h"
#include "app/replay_support.h"
#include "app/scenario.h"
#include "fmt/format.h"
#include "ingest/event_log_writer.h"
#include "ingest/topic_reader.h"
#include "processors/region_table.h"

namespace roadpulse {
namespace {

// Set by the first SIGINT/SIGTERM once the output is open: the read stops and
// the partial file is removed. Before that the default action applies, as
// nothing is left to clean up.
std::atomic<bool> g_stop{false};
extern "C" void OnExportStopSignal(int) { g_stop.store(true); }

struct ExportFlags {
  TopicReaderFlags reader;  // --bootstrap-servers, --regions, the topics, -X
  std::vector<std::string> topics;
  std::string from;
  std::string to;
  std::string output;
  std::string format = "auto";
  std::string compression = "auto";
};

int Fail(std::string_view message) {
  fmt::print(stderr, "roadpulse export: {}\n", message);
  return 2;
}

// A failure of the cluster or of the output while working, not of the flags.
int Failed(std::string_view message) {
  fmt::print(stderr, "roadpulse export: {}\n", message);
  return 1;
}

int RunExport(const ExportFlags& f) {
  // Checked here, not by CLI11, so that a bad flag is named before a missing one.
  if (f.reader.bootstrap_servers.empty()) {
    return Fail(
        "--bootstrap-servers is required (or kafka.\"bootstrap.servers\" in --config FILE, or "
        "ROADPULSE_KAFKA_BOOTSTRAP_SERVERS)");
  }
  if (f.output.empty()) return Fail("--output is required");
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(f.reader.regions.empty() ? DefaultRegionTablePath() : f.reader.regions);
  if (!regions.ok()) return Fail(Msg(regions.status()));
  const absl::TimeZone& tz = regions->zone();
  TopicRead read{f.topics, f.from, f.to};
  read.stop = &g_stop;
  if (absl::Status s =
          DefaultToInputTopics(&read.topics, f.reader.incidents_topic, f.reader.violations_topic);
      !s.ok()) {
    return Fail(Msg(s));
  }
  EventLogWriterOptions wo;
  if (f.format == "delimited") wo.format = EventLogFormat::kDelimited;
  if (f.format == "jsonl") wo.format = EventLogFormat::kJsonLines;
  if (f.compression == "none") wo.compression = Compression::kNone;
  if (f.compression == "gzip") wo.compression = Compression::kGzip;
  if (f.compression == "zstd") wo.compression = Compression::kZstd;

  absl::StatusOr<std::unique_ptr<TopicReader>> reader = OpenTopics(f.reader, read, tz);
  if (!reader.ok()) {
    fmt::print(stderr, "roadpulse export: {}\n", Msg(reader.status()));
    return TopicReaderExitCode(reader.status());
  }
  std::signal(SIGINT, OnExportStopSignal);
  std::signal(SIGTERM, OnExportStopSignal);
  absl::StatusOr<std::unique_ptr<EventLogWriter>> writer = EventLogWriter::Create(f.output, wo);
  if (!writer.ok()) return Fail(Msg(writer.status()));
  Progress progress("export", 0, (*reader)->total());
  int64_t n = 0;
  absl::Status st = (*reader)->ReadAll([&](const TopicRecord& r) {
    const v1::EventKind kind =
        r.topic == f.reader.violations_topic ? v1::EVENT_KIND_VIOLATION : v1::EVENT_KIND_INCIDENT;
    progress.Update(++n, 0);
    return (*writer)->Write(kind, r.key, r.value, std::max<int64_t>(r.timestamp_unix_ms, 0),
                            KafkaPosition{std::string(r.topic), r.partition, r.offset});
  });
  progress.Finish(n, 0);
  // A read cut short, by an error or a stop, leaves nothing under --output
  // (the writer's destructor removes the partial file); an earlier file there
  // stays as it was.
  if (!st.ok()) {
    return Failed(f.output == "-" ? Msg(st)
                                  : fmt::format("{}; nothing written to {}", Msg(st), f.output));
  }
  if (absl::Status closed = (*writer)->Close(); !closed.ok()) return Failed(Msg(closed));
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
      "`roadpulse replay FILE` counts it later. Reaches the cluster like `run`: --config FILE,\n"
      "ROADPULSE_KAFKA_* variables (SASL, TLS) and -X.\n"
      "SIGINT/SIGTERM stops it, leaving nothing under --output.\n"
      "Exit code 0 ok, 1 the cluster or the output failed or it was stopped, 2 bad flags or\n"
      "configuration.");
  auto cli = std::make_shared<ConfigCli>();
  AddTopicReaderOptions(cmd, cli.get(), &flags->reader, "");
  cmd->add_option("--topic", flags->topics, "Topic to export (repeatable; default: both input topics)");
  cmd->add_option("--from", flags->from,
                  "First record time (YYYY-MM-DD local midnight, RFC 3339, or Unix ms), found "
                  "with offsetsForTimes (default: the beginning)");
  cmd->add_option("--to", flags->to, "Record time to stop before (same forms; default: the current end)");
  cmd->add_option("--output", flags->output,
                  "Event-log file to write (\"-\": stdout; required); written as FILE.partial and "
                  "renamed to FILE once every record is in it");
  cmd->add_option("--format", flags->format, "auto (by the name), delimited or jsonl")
      ->check(CLI::IsMember({"auto", "delimited", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--compression", flags->compression, "auto (by the name), none, gzip or zstd")
      ->check(CLI::IsMember({"auto", "none", "gzip", "zstd"}))
      ->capture_default_str();
  cmd->callback([flags, cli, exit_code] {
    absl::StatusOr<Config> config =
        LoadTopicReaderConfig(*cli, /*servers_from_config=*/true, "export", &flags->reader);
    *exit_code = config.ok() ? RunExport(*flags) : Fail(Msg(config.status()));
  });
}

}  // namespace roadpulse
