// Shared by `roadpulse replay`, `export`, `inspect` and `redrive`: opening input files
// (event logs, or CSV through a mapping), the reject file, the topic-reading
// flags, and the progress line on stderr.
#ifndef ROADPULSE_APP_REPLAY_SUPPORT_H_
#define ROADPULSE_APP_REPLAY_SUPPORT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "app/config.h"
#include "app/config_cli.h"
#include "ingest/csv_mapping.h"
#include "ingest/event_log_reader.h"
#include "ingest/kafka_producer.h"
#include "ingest/record_source.h"
#include "ingest/topic_reader.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

// Writes rejects as "FILE:WHERE: REASON" lines, one line each (a line break
// in a field becomes a space), to a file (when given) and counts them;
// without a file the first few go to stderr. A write that fails is not an
// exception: the rejects are still counted, and Close() says so.
class RejectFile final : public RejectSink {
 public:
  // Empty path: no file. kPermissionDenied names an unwritable path.
  static absl::StatusOr<std::unique_ptr<RejectFile>> Create(const std::string& path);
  ~RejectFile() override;
  void Reject(std::string_view source, std::string_view where, std::string_view reason) override;
  // Closes the file (once; later calls repeat the answer). kDataLoss naming
  // the file and why when a write failed: it lists only some of the rejects.
  absl::Status Close();
  int64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  RejectFile() = default;
  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t count_ = 0;
  int write_errno_ = 0;  // of the first write that failed; 0: none
};

// Opens one input: a CSV file through `mapping` when it is non-null,
// otherwise an event log (`format` kAuto detects delimited / JSON Lines).
// `rejects` must outlive the source.
absl::StatusOr<std::unique_ptr<RecordSource>> OpenInput(const std::string& path,
                                                        const CsvMapping* mapping,
                                                        EventLogFormat format,
                                                        RejectSink* rejects);

// What `replay`, `export`, `inspect` and `redrive` read topics with: the
// cluster's flags (bound to the configuration by AddTopicReaderOptions) and
// the region table, whose time zone reads their dates.
struct TopicReaderFlags {
  std::string bootstrap_servers;
  std::string regions;
  std::string incidents_topic = "roadpulse.incidents";
  std::string violations_topic = "roadpulse.violations";
  std::vector<std::string> properties;  // -X key=value as given; see `client`
  // The effective librdkafka properties (file < ROADPULSE_KAFKA_* < -X),
  // without bootstrap.servers; set by LoadTopicReaderConfig.
  KafkaProperties client;
};
// Adds --config, --log-format, --bootstrap-servers (`servers_help`), --regions,
// --incidents-topic, --violations-topic and -X, bound to the configuration's
// kafka.*, regions.file and topics.* as for `run`. `flags` and `cli` must
// outlive the command.
void AddTopicReaderOptions(CLI::App* cmd, ConfigCli* cli, TopicReaderFlags* flags,
                           const std::string& servers_help);
// defaults < --config FILE < ROADPULSE_* < flags, into `flags`. The
// configured bootstrap servers are taken only when `servers_from_config`;
// otherwise only --bootstrap-servers counts (a cluster named by the
// environment must not turn a replay of files into one of topics). Returns
// the configuration for the command's other keys; kInvalidArgument names a
// bad file, variable, property or log setting. Then logs go as the
// configuration says (log.level, log.format or --log-format, secrets masked),
// as for `run`, each line naming `command`.
absl::StatusOr<Config> LoadTopicReaderConfig(const ConfigCli& cli, bool servers_from_config,
                                             const std::string& command, TopicReaderFlags* flags);

// One read of topics: which, and the time range's texts (ParseTimeFlag's
// forms; empty: open) with the flags they came from, for messages.
struct TopicRead {
  std::vector<std::string> topics;
  std::string from;
  std::string to;
  std::string from_flag = "--from";
  std::string to_flag = "--to";
  // TopicReaderOptions::stop.
  const std::atomic<bool>* stop = nullptr;
};

// For the commands that read the input topics: no --topic means both; any
// other topic is kInvalidArgument, naming it and the two input topics.
absl::Status DefaultToInputTopics(std::vector<std::string>* topics,
                                  const std::string& incidents_topic,
                                  const std::string& violations_topic);
// Opens a TopicReader (with the records' headers when `headers`) on
// `cluster` for `read`, its times in `tz`. kInvalidArgument names a time flag
// that does not parse or a bad property; any other error is the cluster's (it
// cannot be reached, it lacks a topic), its message "cannot read TOPICS from
// SERVERS: ...". TopicReaderExitCode gives the command's exit code for each.
absl::StatusOr<std::unique_ptr<TopicReader>> OpenTopics(const TopicReaderFlags& cluster,
                                                        const TopicRead& read, absl::TimeZone tz,
                                                        bool headers = false);
// kInvalidArgument naming the first of `reasons` (--reason values) that is
// not a RejectReasonName, and listing the reasons.
absl::Status CheckReasonNames(const std::vector<std::string>& reasons);

// The exit code for OpenTopics' error: 2 for bad flags, 1 for the cluster's
// errors (as `report`'s).
int TopicReaderExitCode(const absl::Status& status);

// The message of a status as a std::string (Debian's absl::string_view is
// not std::string_view).
inline std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// "incident" / "violation" / "unspecified".
std::string_view KindName(v1::EventKind kind);

// Progress on stderr: a bar with events/s and ETA, redrawn a few times a
// second, when stderr is a terminal; nothing otherwise (callers print a
// summary line at the end).
class Progress {
 public:
  // `total_bytes`: the inputs' size, for the ETA (0 when unknown);
  // `total_records`: when known instead (Kafka), else 0.
  Progress(std::string label, uint64_t total_bytes, int64_t total_records);
  // Cheap: checks the clock only every 4096 calls.
  void Update(int64_t records, uint64_t bytes_done) {
    if ((++calls_ & 4095) == 0) Draw(records, bytes_done, false);
  }
  // Clears the bar.
  void Finish(int64_t records, uint64_t bytes_done);
  double elapsed_s() const;
  bool tty() const { return tty_; }

 private:
  void Draw(int64_t records, uint64_t bytes_done, bool force);
  std::string label_;
  uint64_t total_bytes_;
  int64_t total_records_;
  bool tty_;
  uint64_t calls_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_APP_REPLAY_SUPPORT_H_
