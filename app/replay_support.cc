#include "app/replay_support.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/logging.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "processors/reject_reason.h"

namespace roadpulse {

absl::StatusOr<std::unique_ptr<RejectFile>> RejectFile::Create(const std::string& path) {
  std::unique_ptr<RejectFile> r(new RejectFile());
  r->path_ = path;
  if (!path.empty()) {
    r->file_ = std::fopen(path.c_str(), "w");
    if (r->file_ == nullptr) {
      return absl::PermissionDeniedError(
          fmt::format("--rejects {}: cannot open for writing: {}", path, std::strerror(errno)));
    }
  }
  return r;
}

RejectFile::~RejectFile() { Close().IgnoreError(); }

void RejectFile::Reject(std::string_view source, std::string_view where, std::string_view reason) {
  ++count_;
  std::string line = fmt::format("{}:{}: {}", source, where, reason);
  std::replace_if(
      line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  line += '\n';
  if (!path_.empty()) {
    if (file_ == nullptr || write_errno_ != 0) return;
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
      write_errno_ = errno != 0 ? errno : EIO;
    }
  } else if (count_ <= 10) {
    fmt::print(stderr, "reject: {}", line);
    if (count_ == 10) fmt::print(stderr, "reject: ... (more are only counted; see --rejects)\n");
  }
}

absl::Status RejectFile::Close() {
  if (file_ != nullptr) {
    errno = 0;
    if (std::fclose(file_) != 0 && write_errno_ == 0) write_errno_ = errno != 0 ? errno : EIO;
    file_ = nullptr;
  }
  if (write_errno_ == 0) return absl::OkStatus();
  return absl::DataLossError(
      fmt::format("--rejects {}: write failed: {}; it does not list all {} rejects", path_,
                  std::strerror(write_errno_), count_));
}

absl::StatusOr<std::unique_ptr<RecordSource>> OpenInput(const std::string& path,
                                                        const CsvMapping* mapping,
                                                        EventLogFormat format,
                                                        RejectSink* rejects) {
  if (mapping != nullptr) {
    absl::StatusOr<std::unique_ptr<CsvEventSource>> csv =
        CsvEventSource::Open(path, *mapping, rejects);
    if (!csv.ok()) return csv.status();
    return std::unique_ptr<RecordSource>(*std::move(csv));
  }
  EventLogReaderOptions options;
  options.format = format;
  options.rejects = rejects;
  absl::StatusOr<std::unique_ptr<EventLogReader>> log = EventLogReader::Open(path, options);
  if (!log.ok()) return log.status();
  return std::unique_ptr<RecordSource>(*std::move(log));
}

void AddTopicReaderOptions(CLI::App* cmd, ConfigCli* cli, TopicReaderFlags* flags,
                           const std::string& servers_help) {
  AddConfigOptions(cmd, cli);
  AddBootstrapServersOption(cmd, cli, &flags->bootstrap_servers, servers_help);
  cli->Bind(
      cmd->add_option("--regions", flags->regions, "Region table file (its time zone reads dates)")
          ->check(CLI::ExistingFile),
      "regions.file");
  cli->Bind(cmd->add_option("--incidents-topic", flags->incidents_topic, "Topic of accidents")
                ->capture_default_str(),
            "topics.incidents");
  cli->Bind(cmd->add_option("--violations-topic", flags->violations_topic, "Topic of violations")
                ->capture_default_str(),
            "topics.violations");
  AddPropertiesOption(cmd, cli, &flags->properties);
}

absl::StatusOr<Config> LoadTopicReaderConfig(const ConfigCli& cli, bool servers_from_config,
                                             const std::string& command, TopicReaderFlags* flags) {
  absl::StatusOr<Config> config = cli.Load();
  if (!config.ok()) return config.status();
  if (absl::Status s = SetUpLogging(LogOptionsFromConfig(*config, command)); !s.ok()) return s;
  if (servers_from_config) flags->bootstrap_servers = config->BootstrapServers();
  flags->regions = config->GetString("regions.file");
  flags->incidents_topic = config->GetString("topics.incidents");
  flags->violations_topic = config->GetString("topics.violations");
  flags->client = config->ClientProperties();
  return config;
}

absl::StatusOr<std::unique_ptr<TopicReader>> OpenTopics(const TopicReaderFlags& cluster,
                                                        const TopicRead& read, absl::TimeZone tz,
                                                        bool headers) {
  TopicReaderOptions options;
  options.bootstrap_servers = cluster.bootstrap_servers;
  options.properties = cluster.client;
  options.topics = read.topics;
  options.headers = headers;
  options.stop = read.stop;
  if (!read.from.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(read.from_flag, read.from, tz);
    if (!t.ok()) return t.status();
    options.from = *t;
  }
  if (!read.to.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(read.to_flag, read.to, tz);
    if (!t.ok()) return t.status();
    options.to = *t;
  }
  absl::StatusOr<std::unique_ptr<TopicReader>> reader = TopicReader::Create(options);
  if (reader.ok() || absl::IsInvalidArgument(reader.status())) return reader;
  return absl::Status(reader.status().code(),
                      absl::StrCat("cannot read ", absl::StrJoin(read.topics, ", "), " from ",
                                   cluster.bootstrap_servers, ": ", reader.status().message()));
}

absl::Status CheckReasonNames(const std::vector<std::string>& reasons) {
  for (const std::string& reason : reasons) {
    if (!RejectReasonFromName(reason).has_value()) {
      std::vector<std::string_view> names;
      for (RejectReason r : AllRejectReasons()) names.push_back(RejectReasonName(r));
      return absl::InvalidArgumentError(fmt::format(
          "--reason: no reason \"{}\"; the reasons are {}", reason, fmt::join(names, ", ")));
    }
  }
  return absl::OkStatus();
}

int TopicReaderExitCode(const absl::Status& status) {
  return absl::IsInvalidArgument(status) ? 2 : 1;
}

absl::Status DefaultToInputTopics(std::vector<std::string>* topics,
                                  const std::string& incidents_topic,
                                  const std::string& violations_topic) {
  if (topics->empty()) *topics = {incidents_topic, violations_topic};
  for (const std::string& t : *topics) {
    if (t != incidents_topic && t != violations_topic) {
      return absl::InvalidArgumentError(
          fmt::format("--topic {}: not an input topic (--incidents-topic {}, "
                      "--violations-topic {})",
                      t, incidents_topic, violations_topic));
    }
  }
  return absl::OkStatus();
}

std::string_view KindName(v1::EventKind kind) {
  switch (kind) {
    case v1::EVENT_KIND_INCIDENT:
      return "incident";
    case v1::EVENT_KIND_VIOLATION:
      return "violation";
    default:
      return "unspecified";
  }
}

Progress::Progress(std::string label, uint64_t total_bytes, int64_t total_records)
    : label_(std::move(label)),
      total_bytes_(total_bytes),
      total_records_(total_records),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Draw(int64_t records, uint64_t bytes_done, bool force) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  const double t = std::chrono::duration<double>(now - start_).count();
  double fraction = -1;
  if (total_records_ > 0) {
    fraction = static_cast<double>(records) / static_cast<double>(total_records_);
  } else if (total_bytes_ > 0) {
    fraction = static_cast<double>(bytes_done) / static_cast<double>(total_bytes_);
  }
  const double rate = t > 0 ? static_cast<double>(records) / t : 0;
  std::string bar;
  std::string eta = "--:--";
  if (fraction >= 0) {
    fraction = std::min(fraction, 1.0);
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    bar = fmt::format("[{}{}] {:5.1f}% ", std::string(static_cast<size_t>(filled), '#'),
                      std::string(static_cast<size_t>(width - filled), '.'), fraction * 100);
    if (fraction > 0.001) {
      const int left = static_cast<int>(t / fraction - t);
      eta = fmt::format("{}:{:02d}", left / 60, left % 60);
    }
  }
  fmt::print(stderr, "\r{}: {}{} events, {:.2f} M events/s, ETA {}   ", label_, bar, records,
             rate / 1e6, eta);
  std::fflush(stderr);
}

void Progress::Finish(int64_t records, uint64_t bytes_done) {
  if (!tty_) return;
  fmt::print(stderr, "\r{:80}\r", "");
  std::fflush(stderr);
}

}  // namespace roadpulse
