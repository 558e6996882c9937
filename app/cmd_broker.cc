// `roadpulse broker`: the embedded mock Kafka cluster, standalone.
//
// The first line of standard output is `bootstrap.servers=HOST:PORT,...`
// (flushed at once), so a script can start the broker and read where it
// listens; logs go to standard error. Ports are chosen by the OS: librdkafka
// 2.0.2's mock cluster cannot listen on a given port.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

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
};

int RunBroker(const BrokerFlags& flags) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("broker"));
  const std::vector<TopicSpec> topics = {
      {"roadpulse.incidents", flags.partitions, 1},  {"roadpulse.violations", flags.partitions, 1},
      {"roadpulse.counts", flags.partitions, 1},     {"roadpulse.dlq", flags.partitions, 1},
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
               "counts,dlq,checkpoints}} with {} partitions each; Ctrl-C to stop",
               flags.brokers, (*broker)->bootstrap_servers(), flags.partitions);
  while (!broker_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
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
      "partition keeps only about 5 MiB: use enough partitions for big runs.");
  cmd->add_option("--brokers", flags->brokers, "Number of brokers in the cluster")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--partitions", flags->partitions, "Partitions of every topic")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->callback([flags, exit_code] { *exit_code = RunBroker(*flags); });
}

}  // namespace roadpulse
