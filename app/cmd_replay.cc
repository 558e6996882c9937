// `roadpulse replay`: counts event-log files, CSV files (through a mapping)
// or a time range of the input topics with the worker's own processors, no
// broker needed, and prints the report (the same BuildReport/RenderReport as
// `roadpulse report`). Records are put in the partitions the live producer
// would have chosen (murmur2 of the key, --partitions), so the output is
// byte-identical to broker + worker + report over the same events.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/config_cli.h"
#include "app/replay_support.h"
#include "app/report_flags.h"
#include "app/scenario.h"
#include "fmt/format.h"
#include "ingest/csv_mapping.h"
#include "ingest/replayer.h"
#include "ingest/topic_reader.h"
#include "processors/count_store.h"
#include "processors/period.h"
#include "processors/region_table.h"
#include "sinks/report.h"

namespace roadpulse {
namespace {

struct ReplayFlags {
  TopicReaderFlags reader;  // --bootstrap-servers, --regions, the topics, -X
  std::vector<std::string> inputs;
  std::string mapping;
  std::string input_format = "auto";
  ReportFlags report;  // --from, --to, --region, --lang, --format, --bom
  int partitions = 8;
  int retention_days = 400;
  int threads = 0;  // 0: one per core (files), up to 8; topics: 1
  std::string rejects;
  // Kafka
  std::vector<std::string> topics;
  std::string since;
  std::string until;
};

int Fail(std::string_view message) {
  fmt::print(stderr, "roadpulse replay: {}\n", message);
  return 2;
}

int RunReplay(const ReplayFlags& f) {
  const bool kafka = !f.reader.bootstrap_servers.empty();
  if (kafka == !f.inputs.empty()) {
    return Fail("give input files, or --bootstrap-servers (to replay topics), not both");
  }
  if (f.partitions < 1) return Fail(fmt::format("--partitions {}: must be >= 1", f.partitions));
  if (f.threads < 0 || f.threads > 256) {
    return Fail(fmt::format("--threads {}: must be 1 to 256 (or 0: one per core)", f.threads));
  }
  if (f.threads > 1 && kafka) return Fail("--threads is for files; topics replay on one thread");
  // More threads than partitions would idle (a partition is one thread's).
  const int threads = kafka ? 1
                      : f.threads > 0
                          ? f.threads
                          : std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1,
                                       std::min(8, f.partitions));
  if (f.retention_days < 1) {
    return Fail(fmt::format("--retention-days {}: must be >= 1", f.retention_days));
  }
  if (kafka && !f.mapping.empty()) return Fail("--mapping is for CSV files, not topics");
  if (!kafka && (!f.since.empty() || !f.until.empty() || !f.topics.empty())) {
    return Fail("--topic, --since and --until need --bootstrap-servers");
  }
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(f.reader.regions.empty() ? DefaultRegionTablePath() : f.reader.regions);
  if (!regions.ok()) return Fail(Msg(regions.status()));
  const absl::TimeZone& tz = regions->zone();
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), tz);
  absl::StatusOr<ReportRequest> request = ReadReportFlags(f.report, *regions, today);
  if (!request.ok()) return Fail(Msg(request.status()));
  EventLogFormat input_format = EventLogFormat::kAuto;
  if (f.input_format == "delimited") input_format = EventLogFormat::kDelimited;
  if (f.input_format == "jsonl") input_format = EventLogFormat::kJsonLines;
  std::optional<CsvMapping> mapping;
  if (!f.mapping.empty()) {
    absl::StatusOr<CsvMapping> m = CsvMapping::LoadFile(f.mapping, *regions);
    if (!m.ok()) return Fail(Msg(m.status()));
    mapping = *std::move(m);
  }
  absl::StatusOr<std::unique_ptr<RejectFile>> rejects = RejectFile::Create(f.rejects);
  if (!rejects.ok()) return Fail(Msg(rejects.status()));

  ReplayOptions options;
  options.partitions = f.partitions;
  options.incidents_topic = f.reader.incidents_topic;
  options.violations_topic = f.reader.violations_topic;
  options.processor.retention_horizon = absl::Hours(24) * f.retention_days;
  // The report is built from day buckets; minute and hour buckets (for the
  // live rolling windows) would only cost time here. Day buckets do not
  // depend on them.
  options.processor.minute_buckets_for = absl::ZeroDuration();
  options.processor.hour_buckets_for = absl::ZeroDuration();
  options.threads = threads;
  // The report reads the period and the same period last year: only their
  // days are kept for it, so memory does not grow with the years the input
  // covers.
  const Period period = request->period;
  const Period base = SamePeriodLastYear(period);
  options.days_from_unix_s =
      absl::ToUnixSeconds(absl::FromCivil(std::min(base.from, period.from), tz));
  options.days_to_unix_s = absl::ToUnixSeconds(absl::FromCivil(std::max(base.to, period.to), tz));
  Replayer replay(*regions, options);
  // Events refused as too late whose days the report reads: its figures
  // leave them out. Inputs given newest first do that (the retention
  // horizon runs from the newest event read before, as in `run`).
  int64_t too_late_in_periods = 0;
  auto note_refusal = [&](RejectReason reason, absl::Time occurred_at) {
    if (reason != RejectReason::kTooLate) return;
    const absl::CivilDay day = absl::ToCivilDay(occurred_at, tz);
    if ((day >= period.from && day < period.to) || (day >= base.from && day < base.to)) {
      ++too_late_in_periods;
    }
  };

  // An input that cannot be read to its end leaves the counts short: the
  // command then names it, prints no report (a report of part of the input
  // would pass for the whole) and exits 1.
  bool input_failed = false;
  int64_t records = 0;
  double elapsed = 0;
  if (!kafka) {
    // Open every input first: sizes for the ETA, and every file that cannot
    // be opened named before a single record is read.
    std::vector<std::unique_ptr<RecordSource>> sources;
    uint64_t total_bytes = 0;
    int unopened = 0;
    for (const std::string& path : f.inputs) {
      absl::StatusOr<std::unique_ptr<RecordSource>> src =
          OpenInput(path, mapping ? &*mapping : nullptr, input_format, rejects->get());
      if (!src.ok()) {
        fmt::print(stderr, "roadpulse replay: {}\n", Msg(src.status()));
        ++unopened;
        continue;
      }
      total_bytes += (*src)->file_size();
      sources.push_back(*std::move(src));
    }
    if (unopened > 0) {
      fmt::print(stderr, "roadpulse replay: no report: {} of {} input files cannot be read\n",
                 unopened, f.inputs.size());
      return 1;
    }
    Progress progress("replay", total_bytes, 0);
    uint64_t bytes_before = 0;
    SourceRecord rec;
    // --threads > 1: records are submitted to the replayer's workers with
    // their positions, and their refusals come back later, in input order,
    // worded by their file as one thread words them. first_record[i]: the
    // replayer's number of file i's first record.
    const bool threaded = threads > 1;
    std::vector<int64_t> first_record;
    auto write_refusals = [&](std::vector<Refusal> refusals) {
      for (const Refusal& r : refusals) {
        const size_t file = static_cast<size_t>(
            std::upper_bound(first_record.begin(), first_record.end(), r.record) -
            first_record.begin() - 1);
        (*rejects)->Reject(sources[file]->name(), sources[file]->Describe(r.position),
                           fmt::format("{}: {}", RejectReasonName(r.reason), r.detail));
        note_refusal(r.reason, r.too_late_occurred_at);
      }
    };
    for (const std::unique_ptr<RecordSource>& src : sources) {
      if (input_failed) break;
      first_record.push_back(records + 1);
      while (true) {
        absl::StatusOr<bool> more = src->Next(&rec);
        if (!more.ok()) {
          progress.Finish(records, 0);
          fmt::print(stderr, "roadpulse replay: {}\n", Msg(more.status()));
          input_failed = true;
          break;
        }
        if (!*more) break;
        ++records;
        if (threaded) {
          replay.Submit(rec, src->Position());
          if ((records & 4095) == 0) write_refusals(replay.TakeRefusals());
        } else {
          const ProcessResult& r = replay.Process(rec);
          if (r.outcome == Outcome::kRejected) {
            (*rejects)->Reject(src->name(), src->Where(),
                               fmt::format("{}: {}", RejectReasonName(r.reason), r.detail));
            note_refusal(r.reason, r.too_late_occurred_at);
          }
        }
        progress.Update(records, bytes_before + src->file_bytes_read());
      }
      bytes_before += src->file_bytes_read();
    }
    if (threaded) {
      replay.Finish();
      write_refusals(replay.TakeRefusals());
    }
    progress.Finish(records, bytes_before);
    elapsed = progress.elapsed_s();
  } else {
    TopicRead read{f.topics, f.since, f.until, "--since", "--until"};
    if (absl::Status s =
            DefaultToInputTopics(&read.topics, f.reader.incidents_topic, f.reader.violations_topic);
        !s.ok()) {
      return Fail(Msg(s));
    }
    absl::StatusOr<std::unique_ptr<TopicReader>> reader = OpenTopics(f.reader, read, tz);
    if (!reader.ok()) {
      fmt::print(stderr, "roadpulse replay: {}\n", Msg(reader.status()));
      return TopicReaderExitCode(reader.status());
    }
    Progress progress("replay", 0, (*reader)->total());
    absl::Status st = (*reader)->ReadAll([&](const TopicRecord& r) {
      ++records;
      const v1::EventKind kind =
          r.topic == f.reader.violations_topic ? v1::EVENT_KIND_VIOLATION : v1::EVENT_KIND_INCIDENT;
      const absl::Time record_time = r.timestamp_unix_ms < 0
                                         ? absl::InfinitePast()
                                         : absl::FromUnixMillis(r.timestamp_unix_ms);
      const ProcessResult& res = replay.ProcessAt(kind, r.partition, r.value, record_time);
      if (res.outcome == Outcome::kRejected) {
        (*rejects)->Reject(r.topic, fmt::format("partition {} offset {}", r.partition, r.offset),
                           fmt::format("{}: {}", RejectReasonName(res.reason), res.detail));
        note_refusal(res.reason, res.too_late_occurred_at);
      }
      progress.Update(records, 0);
      return absl::OkStatus();
    });
    progress.Finish(records, 0);
    elapsed = progress.elapsed_s();
    if (!st.ok()) {
      fmt::print(stderr, "roadpulse replay: {}\n", Msg(st));
      input_failed = true;
    }
  }

  CountStore store(*regions);
  if (absl::Status s = replay.PublishTo(store); !s.ok()) return Fail(Msg(s));
  const ReplayTally t = replay.tally();
  std::string reasons;
  for (RejectReason r : AllRejectReasons()) {
    const int64_t n = t.rejected_by_reason[static_cast<size_t>(r)];
    if (n > 0)
      reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", RejectReasonName(r), n);
  }
  const int64_t input_rejects = (*rejects)->count() - t.totals.rejected;
  fmt::print(stderr,
             "replay: {} records in {:.2f} s ({:.0f} records/s): counted {} + amended {} + "
             "duplicates {} + rejected {}{}; input rows/lines rejected {}{}\n",
             records, elapsed, elapsed > 0 ? static_cast<double>(records) / elapsed : 0.0,
             t.totals.counted, t.totals.amended, t.totals.duplicates, t.totals.rejected,
             reasons.empty() ? "" : " (" + reasons + ")", input_rejects,
             (*rejects)->path().empty() ? "" : "; rejects in " + (*rejects)->path());
  // The rejects file is part of the answer: one it could not write in full
  // fails the command, after the report (whose counts are right).
  const absl::Status rejects_written = (*rejects)->Close();
  if (!rejects_written.ok()) fmt::print(stderr, "roadpulse replay: {}\n", Msg(rejects_written));
  if (input_failed) {
    fmt::print(stderr, "roadpulse replay: no report: the input above was not read to its end\n");
    return 1;
  }
  // Not one event among the lines or rows read: the wrong file, or the wrong
  // --input-format. A report of zeros would pass for one of a quiet period.
  if (records == 0 && input_rejects > 0) {
    fmt::print(stderr,
               "roadpulse replay: no report: none of the input's {} rows/lines is an event "
               "(wrong file or --input-format?)\n",
               input_rejects);
    return 1;
  }

  absl::StatusOr<Report> report =
      BuildReport(store, request->region, request->period, request->language);
  if (!report.ok()) return Fail(Msg(report.status()));
  // The days of the input's events, for a period that misses them all.
  std::optional<Period> days;
  if (const std::optional<Replayer::EventSpan> span = replay.event_span(); span.has_value()) {
    days = Period{absl::ToCivilDay(span->earliest, tz), absl::ToCivilDay(span->latest, tz) + 1};
  }
  if (const std::string hint = EmptyPeriodHint(*report, days, "the input"); !hint.empty()) {
    fmt::print(stderr, "roadpulse replay: {}\n", hint);
  }
  if (too_late_in_periods > 0) {
    fmt::print(stderr,
               "roadpulse replay: warning: {} records of the report's periods were refused as "
               "too_late, and its figures leave them out: each event is more than {} days "
               "older than the newest one read before it on its partition. The inputs are "
               "read in the order given, as `run` reads a partition; if they are not oldest "
               "first, give them in that order\n",
               too_late_in_periods, f.retention_days);
  }
  std::string text = RenderReport(*report, request->format, request->utf8_bom);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return rejects_written.ok() ? 0 : 1;
}

}  // namespace

void AddReplayCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ReplayFlags>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Count event-log files, CSV files (with --mapping) or a time range of the input topics\n"
      "with the worker's processors, no broker needed, and print the report (as `report`\n"
      "does). Byte-identical to broker + run + report over the same events. A truncated or\n"
      "corrupt input is named with its file and where; no report is printed (a report of part\n"
      "of it would pass for the whole), and the exit code is 1, as for an input none of whose\n"
      "lines or rows is an event. Topics are read like `run` reads them: --config FILE,\n"
      "ROADPULSE_KAFKA_* variables (SASL, TLS) and -X.");
  cmd->add_option("INPUT", flags->inputs,
                  "Event-log files (length-delimited LoggedRecord or JSON Lines, optionally .gz/"
                  ".zst), or CSV files with --mapping; read in the order given, which should be "
                  "oldest first (see --retention-days)");
  cmd->add_option("--mapping", flags->mapping, "CSV mapping (TOML): every INPUT is a CSV file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--input-format", flags->input_format, "Event-log format: auto, delimited, jsonl")
      ->check(CLI::IsMember({"auto", "delimited", "jsonl"}))
      ->capture_default_str();
  auto cli = std::make_shared<ConfigCli>();
  AddTopicReaderOptions(cmd, cli.get(), &flags->reader,
                        "Replay Kafka topics instead of files (or kafka.\"bootstrap.servers\" in "
                        "the configuration, when no file is given)");
  AddReportFlags(cmd, &flags->report);
  cmd->add_option("--partitions", flags->partitions,
                  "Partitions per input topic on the live path being reproduced (records are "
                  "placed by murmur2 of the key, like the producer)")
      ->capture_default_str();
  cli->Bind(cmd->add_option("--retention-days", flags->retention_days,
                            "Events older than this before the newest of their partition are too "
                            "late (as `run --retention-days`, worker.retention_days)")
                ->capture_default_str(),
            "worker.retention_days");
  cmd->add_option("--threads", flags->threads,
                  "Files: process on this many worker threads (partitions are shared out, so "
                  "the report and the rejects are the same); default 0: one per core, up to 8");
  cmd->add_option("--rejects", flags->rejects,
                  "Write every rejected row/line/record as FILE:WHERE: REASON to this file "
                  "(default: the first 10 to stderr)");
  cmd->add_option("--topic", flags->topics,
                  "Topic to replay (repeatable; default: both input topics)");
  cmd->add_option("--since", flags->since,
                  "Kafka: first record time (YYYY-MM-DD local, RFC 3339, or Unix ms), found "
                  "with offsetsForTimes");
  cmd->add_option("--until", flags->until, "Kafka: record time to stop before (same forms)");
  cmd->callback([flags, cli, exit_code] {
    absl::StatusOr<Config> config =
        LoadTopicReaderConfig(*cli, flags->inputs.empty(), "replay", &flags->reader);
    if (!config.ok()) {
      *exit_code = Fail(Msg(config.status()));
      return;
    }
    flags->retention_days = static_cast<int>(config->GetInt("worker.retention_days"));
    *exit_code = RunReplay(*flags);
  });
}

}  // namespace roadpulse
