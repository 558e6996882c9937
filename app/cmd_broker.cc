// `roadpulse broker`: the embedded mock Kafka cluster, standalone.
//
// The first line of standard output is `bootstrap.servers=HOST:PORT,...`
// (flushed at once), so a script can start the broker and read where it
// listens; logs go to standard error. Ports are chosen by the OS: librdkafka
// 2.0.2's mock cluster cannot listen on a given port.
//
// With --control it also reads fault-injection commands from standard input,
// one per line, and answers each with one line on standard output (see
// app/broker_control.h); a bad command never stops the broker.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "app/broker_control.h"
#include "app/commands.h"
#include "ingest/mock_broker.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

std::atomic<bool> broker_stop{false};

void OnBrokerSignal(int) { broker_stop.store(true); }

struct BrokerFlags {
  int brokers = 1;
  int partitions = 8;
  int counts_partitions = 0;  // 0: same as partitions
  bool control = false;
};

// Longest command line accepted on stdin; a longer one is answered with an
// error and skipped.
constexpr size_t kMaxControlLine = 4096;

// Reads complete lines from standard input without blocking for longer than
// `timeout_ms`, runs each through `control` and prints its answer (flushed).
// Returns false once standard input is closed.
bool ServeControlInput(BrokerControl& control, std::string& pending, bool& skipping,
                       int timeout_ms) {
  pollfd fd{STDIN_FILENO, POLLIN, 0};
  const int ready = ::poll(&fd, 1, timeout_ms);
  if (ready <= 0) return true;  // timeout, or EINTR from a stop signal
  char buf[4096];
  const ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] != '\n') {
      if (!skipping) pending.push_back(buf[i]);
      if (pending.size() > kMaxControlLine) {
        pending.clear();
        skipping = true;
      }
      continue;
    }
    std::string answer;
    if (skipping) {
      answer = "error: command longer than " + std::to_string(kMaxControlLine) + " bytes";
    } else {
      answer = control.Execute(pending);
      spdlog::info("control: {} -> {}", pending, answer);
    }
    std::printf("%s\n", answer.c_str());
    std::fflush(stdout);
    pending.clear();
    skipping = false;
  }
  return true;
}

int RunBroker(const BrokerFlags& flags) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("broker"));
  const int counts_partitions =
      flags.counts_partitions > 0 ? flags.counts_partitions : flags.partitions;
  const std::vector<TopicSpec> topics = {
      {"roadpulse.incidents", flags.partitions, 1},  {"roadpulse.violations", flags.partitions, 1},
      {"roadpulse.counts", counts_partitions, 1},    {"roadpulse.dlq", flags.partitions, 1},
      {"roadpulse.checkpoints", flags.partitions, 1},
  };
  absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(flags.brokers, topics);
  if (!broker.ok()) {
    spdlog::error("{}", broker.status().ToString());
    return 1;
  }
  std::signal(SIGINT, OnBrokerSignal);
  std::signal(SIGTERM, OnBrokerSignal);
  std::printf("bootstrap.servers=%s\n", (*broker)->bootstrap_servers().c_str());
  std::fflush(stdout);
  spdlog::info("mock Kafka cluster: {} broker(s) at {}; topics roadpulse.{{incidents,violations,"
               "dlq,checkpoints}} with {} partitions each, roadpulse.counts with {}; Ctrl-C to "
               "stop{}",
               flags.brokers, (*broker)->bootstrap_servers(), flags.partitions, counts_partitions,
               flags.control ? "; fault-injection commands on stdin (try: help)" : "");
  BrokerControl control(**broker);
  bool reading = flags.control;
  std::string pending;
  bool skipping = false;
  while (!broker_stop.load()) {
    if (reading) {
      reading = ServeControlInput(control, pending, skipping, 100);
      if (!reading) spdlog::info("control: stdin closed; running until SIGINT/SIGTERM");
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  spdlog::info("stopping the mock cluster");
  return 0;
}

}  // namespace

void AddBrokerCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<BrokerFlags>();
  CLI::App* cmd = app.add_subcommand(
      "broker",
      "Run the embedded Kafka broker (librdkafka's mock cluster) until SIGINT/SIGTERM.\n"
      "Prints `bootstrap.servers=HOST:PORT,...` as the first line of stdout; logs go to\n"
      "stderr. Creates roadpulse.incidents, .violations, .counts, .dlq and .checkpoints.\n"
      "Ports are chosen by the OS (the mock cannot listen on a given port). Each\n"
      "partition keeps only about 5 MiB: use enough partitions for big runs.\n"
      "With --control, reads fault-injection commands on stdin, one per line, and\n"
      "answers each with one line on stdout, `ok ...` or `error: ...` (a bad command\n"
      "never stops the broker):\n"
      "  down BROKER | up BROKER           take a broker down / up (-1: all brokers)\n"
      "  rtt BROKER MS                     add MS ms to every response (0: none)\n"
      "  errors API ERROR COUNT            the next COUNT requests of API fail with ERROR\n"
      "                                    (API: Produce, Fetch, OffsetCommit, JoinGroup,\n"
      "                                    Heartbeat, SyncGroup, ...; ERROR: REQUEST_TIMED_OUT,\n"
      "                                    NOT_LEADER_FOR_PARTITION, COORDINATOR_NOT_AVAILABLE,\n"
      "                                    NOT_COORDINATOR, _TRANSPORT, ...)\n"
      "  clear API                         drop API's queued errors\n"
      "  coordinator GROUP BROKER          move a consumer group's coordinator\n"
      "  leader TOPIC PARTITION BROKER     move a partition's leader (-1: none)\n"
      "  topic NAME PARTITIONS             create a topic (replication factor 1)\n"
      "  help                              list the commands");
  cmd->add_option("--brokers", flags->brokers, "Number of brokers in the cluster")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--partitions", flags->partitions, "Partitions of every topic")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--counts-partitions", flags->counts_partitions,
                  "Partitions of roadpulse.counts (default: --partitions). Every republished "
                  "bucket lands there, so long or restart-heavy runs need more of them")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--control", flags->control,
                "Read fault-injection commands on stdin (see above)");
  cmd->callback([flags, exit_code] { *exit_code = RunBroker(*flags); });
}

}  // namespace roadpulse
