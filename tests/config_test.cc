// Configuration: precedence (defaults < file < environment < flags), unknown
// keys refused by name, secrets masked in the printed configuration and in
// logs, and the documented example file in step with the code's keys.
#include "app/config.h"

#include <sstream>
#include <string>

#include "app/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFile[] = R"(
[kafka]
"bootstrap.servers" = "file:9092"
sasl.username = "from-file"
"sasl.password" = "file-pa55word"

[worker]
group = "from-file"
flush_interval_ms = 1000

[view]
token = "file-t0ken"
)";


TEST(ConfigTest, DefaultsAreTheDocumentedOnes) {
  Config config;
  EXPECT_EQ(config.GetString("worker.group"), "roadpulse");
  EXPECT_EQ(config.GetInt("worker.flush_interval_ms"), 250);
  EXPECT_EQ(config.GetInt("worker.retention_days"), 400);
  EXPECT_EQ(config.GetString("view.http"), "127.0.0.1:8080");
  EXPECT_EQ(config.GetString("topics.counts"), "roadpulse.counts");
  EXPECT_EQ(config.BootstrapServers(), "");
  EXPECT_TRUE(config.ClientProperties().empty());
}

TEST(ConfigTest, FileThenEnvironmentThenFlags) {
  Config config;
  ASSERT_TRUE(config.MergeToml(kFile, "test.toml").ok());
  EXPECT_EQ(config.GetString("worker.group"), "from-file");
  EXPECT_EQ(config.GetInt("worker.flush_interval_ms"), 1000);
  EXPECT_EQ(config.BootstrapServers(), "file:9092");
  EXPECT_EQ(config.ClientProperties().at("sasl.username"), "from-file");

  ASSERT_TRUE(config
                  .MergeEnv({{"ROADPULSE_WORKER_GROUP", "from-env"},
                             {"ROADPULSE_KAFKA_SASL_USERNAME", "env-user"},
                             {"ROADPULSE_KAFKA_BOOTSTRAP_SERVERS", "env:9092"},
                             {"HOME", "/root"},
                             {"ROADPULSE_TOKEN", "not-a-key"}})
                  .ok());
  EXPECT_EQ(config.GetString("worker.group"), "from-env");
  EXPECT_EQ(config.GetInt("worker.flush_interval_ms"), 1000);  // the file's still
  EXPECT_EQ(config.ClientProperties().at("sasl.username"), "env-user");
  EXPECT_EQ(config.BootstrapServers(), "env:9092");

  ASSERT_TRUE(config
                  .MergeFlags({{"worker.group", "from-flag", "--group"},
                               {"kafka.sasl.username", "flag-user", "-X"},
                               {"kafka.bootstrap.servers", "flag:9092", "--bootstrap-servers"}})
                  .ok());
  EXPECT_EQ(config.GetString("worker.group"), "from-flag");
  EXPECT_EQ(config.ClientProperties().at("sasl.username"), "flag-user");
  EXPECT_EQ(config.BootstrapServers(), "flag:9092");
  EXPECT_EQ(config.GetInt("worker.flush_interval_ms"), 1000);
  EXPECT_EQ(config.ClientProperties().count("bootstrap.servers"), 0u);

  // The printed configuration says where each value came from.
  const std::string toml = config.ToToml();
  EXPECT_THAT(toml, HasSubstr("group = \"from-flag\"  # flag --group"));
  EXPECT_THAT(toml, HasSubstr("flush_interval_ms = 1000  # test.toml:"));
  EXPECT_THAT(toml, HasSubstr("retention_days = 400  # default"));
}

// ROADPULSE_REGIONS (the systemd unit sets it) and ROADPULSE_TOKEN fill
// regions.file and view.token when nothing else set them, and say so.
TEST(ConfigTest, OlderVariablesFillOnlyEmptyKeys) {
  Config config;
  ASSERT_TRUE(
      config.MergeEnv({{"ROADPULSE_REGIONS", "/etc/r.toml"}, {"ROADPULSE_TOKEN", "t0k"}}).ok());
  EXPECT_EQ(config.GetString("regions.file"), "/etc/r.toml");
  EXPECT_EQ(config.GetString("view.token"), "t0k");
  const std::string toml = config.ToToml();
  EXPECT_THAT(toml, AllOf(HasSubstr("file = \"/etc/r.toml\"  # environment ROADPULSE_REGIONS"),
                          HasSubstr("token = \"********\"  # environment ROADPULSE_TOKEN"),
                          Not(HasSubstr("t0k"))));

  Config from_file;  // a file's regions.file wins; an empty variable sets nothing
  ASSERT_TRUE(from_file.MergeToml("[regions]\nfile = \"f.toml\"\n", "t.toml").ok());
  ASSERT_TRUE(
      from_file.MergeEnv({{"ROADPULSE_REGIONS", "/etc/r.toml"}, {"ROADPULSE_TOKEN", ""}}).ok());
  EXPECT_EQ(from_file.GetString("regions.file"), "f.toml");
  EXPECT_EQ(from_file.GetString("view.token"), "");

  Config named;  // so does the variable named after the key
  ASSERT_TRUE(named
                  .MergeEnv({{"ROADPULSE_REGIONS", "/etc/r.toml"},
                             {"ROADPULSE_REGIONS_FILE", "/etc/named.toml"},
                             {"ROADPULSE_TOKEN", "old"},
                             {"ROADPULSE_VIEW_TOKEN", "new"}})
                  .ok());
  EXPECT_EQ(named.GetString("regions.file"), "/etc/named.toml");
  EXPECT_EQ(named.GetString("view.token"), "new");
}

TEST(ConfigTest, UnknownKeyInFileIsNamed) {
  Config config;
  const absl::Status s = config.MergeToml("[worker]\ngrop = \"x\"\n", "f.toml");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("f.toml:2"), HasSubstr("worker.grop"), HasSubstr("unknown key"),
                    HasSubstr("did you mean worker.group?")));
}

// Distances worked out by hand: repot -> report inserts an r (1);
// repot -> replay changes o, t and adds y (3); xyz is 6 from either.
TEST(ConfigTest, NearestNamesTheClosestWithinTheLimit) {
  const std::vector<std::string> commands = {"replay", "report", "run"};
  EXPECT_EQ(Nearest("repot", commands, 2), "report");
  EXPECT_EQ(Nearest("repot", {"replay"}, 2), "");
  EXPECT_EQ(Nearest("repot", {"replay"}, 3), "replay");
  EXPECT_EQ(Nearest("xyzxyz", commands, 2), "");
  EXPECT_EQ(Nearest("", commands, 3), "run");  // three insertions
  // Equally near (one edit each): the first.
  EXPECT_EQ(Nearest("rux", {"rum", "run"}, 2), "rum");
  EXPECT_EQ(Nearest("report", commands, 0), "report");
}

TEST(ConfigTest, UnknownSectionIsNamed) {
  Config config;
  const absl::Status s = config.MergeToml("[wroker]\ngroup = \"x\"\n", "f.toml");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("f.toml:1"), HasSubstr("unknown section 'wroker'")));
}

TEST(ConfigTest, TopLevelKeyIsRefused) {
  Config config;
  const absl::Status s = config.MergeToml("group = \"x\"\n", "f.toml");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("group"));
}

TEST(ConfigTest, WrongTypeAndRangeAreNamed) {
  Config config;
  absl::Status s = config.MergeToml("[worker]\nflush_interval_ms = \"fast\"\n", "f.toml");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("worker.flush_interval_ms"),
                                              HasSubstr("expected an integer, got a string")));
  s = config.MergeToml("[worker]\nflush_interval_ms = 0\n", "f.toml");
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("worker.flush_interval_ms"), HasSubstr("outside [1, 3600000]")));
  s = config.MergeToml("[log]\nformat = \"xml\"\n", "f.toml");
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("log.format"), HasSubstr("text,json")));
  s = config.MergeToml("[view]\nhttp = \"localhost\"\n", "f.toml");
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("view.http"), HasSubstr("HOST:PORT")));
  // An empty port (found by config_fuzzer: it crashed on a null pointer).
  s = config.MergeToml("[worker]\nhttp = \"localhost:\"\n", "f.toml");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("worker.http"), HasSubstr("HOST:PORT")));
  s = config.MergeFlags({{"view.http", "127.0.0.1:", "--http"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = config.MergeToml("[view]\nstale_after_s = 5\n", "f.toml");  // integer for a float is fine
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(config.GetDouble("view.stale_after_s"), 5.0);
}

TEST(ConfigTest, BadTomlNamesTheLine) {
  Config config;
  const absl::Status s = config.MergeToml("[worker]\ngroup = \n", "f.toml");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("f.toml:2"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  Config config;
  const absl::Status s = config.MergeFile("/nonexistent/roadpulse.toml");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/roadpulse.toml"));
}

TEST(ConfigTest, UnknownEnvironmentKeyIsNamed) {
  Config config;
  absl::Status s = config.MergeEnv({{"ROADPULSE_WORKER_GROPU", "x"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("ROADPULSE_WORKER_GROPU"), HasSubstr("did you mean worker.group?")));
  s = config.MergeEnv({{"ROADPULSE_WROKER_GROUP", "x"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("ROADPULSE_WROKER_GROUP"));
  s = config.MergeEnv({{"ROADPULSE_WORKER_RETENTION_DAYS", "many"}});
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("ROADPULSE_WORKER_RETENTION_DAYS"), HasSubstr("not an integer")));
}

TEST(ConfigTest, UnknownKafkaPropertyIsNamedByValidate) {
  Config config;
  ASSERT_TRUE(config.MergeToml("[kafka]\n\"sasl.mechanismz\" = \"PLAIN\"\n", "f.toml").ok());
  const absl::Status s = config.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("f.toml:2"), HasSubstr("kafka.sasl.mechanismz")));

  Config ok;
  ASSERT_TRUE(ok.MergeToml("[kafka]\n\"security.protocol\" = \"SASL_SSL\"\n"
                           "\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n"
                           "\"sasl.username\" = \"u\"\n\"sasl.password\" = \"p\"\n"
                           "\"ssl.endpoint.identification.algorithm\" = \"https\"\n",
                           "f.toml")
                  .ok());
  EXPECT_TRUE(ok.Validate().ok()) << ok.Validate();
}

TEST(ConfigTest, BadKafkaValueNeverEchoesASecret) {
  Config config;
  // A bad value for a property librdkafka checks.
  ASSERT_TRUE(config.MergeFlags({{"kafka.security.protocol", "TLS-9", "-X"}}).ok());
  absl::Status s = config.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("security.protocol"), HasSubstr("TLS-9")));
}

TEST(ConfigTest, SecretsAreMaskedWhenPrinted) {
  Config config;
  ASSERT_TRUE(config.MergeToml(kFile, "test.toml").ok());
  ASSERT_TRUE(config
                  .MergeEnv({{"ROADPULSE_KAFKA_SSL_KEY_PASSWORD", "env-key-pa55"},
                             {"ROADPULSE_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET", "env-cl1ent-secret"}})
                  .ok());
  ASSERT_TRUE(config.MergeFlags({{"kafka.ssl.key.pem", "-----BEGIN PRIVATE KEY-----abc", "-X"}}).ok());
  const std::string toml = config.ToToml();
  for (const char* secret : {"file-pa55word", "file-t0ken", "env-key-pa55", "env-cl1ent-secret",
                             "BEGIN PRIVATE KEY"}) {
    EXPECT_THAT(toml, Not(HasSubstr(secret)));
  }
  EXPECT_THAT(toml, HasSubstr("\"sasl.password\" = \"********\""));
  EXPECT_THAT(toml, HasSubstr("\"ssl.key.password\" = \"********\""));
  EXPECT_THAT(toml, HasSubstr("\"ssl.key.pem\" = \"********\""));
  EXPECT_THAT(toml, HasSubstr("token = \"********\""));
  EXPECT_THAT(toml, HasSubstr("\"sasl.username\" = \"from-file\""));  // not a secret
  EXPECT_EQ(config.SecretValues().size(), 5u);
}

TEST(ConfigTest, SecretKeyRule) {
  for (const char* key : {"kafka.sasl.password", "kafka.ssl.key.password", "kafka.ssl.key.pem",
                          "view.token", "kafka.sasl.oauthbearer.client.secret",
                          "kafka.ssl.keystore.password", "kafka.sasl.oauthbearer.config",
                          "kafka.My.API.Token"}) {
    EXPECT_TRUE(IsSecretKey(key)) << key;
  }
  for (const char* key : {"kafka.sasl.username", "kafka.ssl.key.location", "kafka.bootstrap.servers",
                          "worker.group"}) {
    EXPECT_FALSE(IsSecretKey(key)) << key;
  }
}

TEST(ConfigTest, TopicsCompactCountsAndCheckpoints) {
  Config config;
  ASSERT_TRUE(config.MergeToml("[topics]\ncounts = \"x.counts\"\npartitions = 12\n", "f").ok());
  std::map<std::string, std::string> policy;
  for (const TopicSettings& t : config.Topics()) policy[t.name] = t.cleanup_policy;
  EXPECT_EQ(policy.at("x.counts"), "compact");
  EXPECT_EQ(policy.at("roadpulse.checkpoints"), "compact");
  EXPECT_EQ(policy.at("roadpulse.incidents"), "delete");
  EXPECT_EQ(policy.at("roadpulse.violations"), "delete");
  EXPECT_EQ(policy.at("roadpulse.dlq"), "delete");
  EXPECT_EQ(config.GetInt("topics.partitions"), 12);
}

// What `config check` prints is TOML that merges back to the same values,
// whatever the strings hold (config_fuzzer's invariant; DEL, U+007F, came
// out unescaped and made the printed file invalid TOML).
TEST(ConfigTest, PrintedConfigurationMergesBack) {
  Config config;
  ASSERT_TRUE(config
                  .MergeToml("[worker]\ngroup = \"a\\u007fb\\u0001c\\td\\\"e\\\\\"\n"
                             "[kafka]\n\"client.id\" = \"x\\u007f\"\n",
                             "f.toml")
                  .ok());
  Config again;
  const absl::Status s = again.MergeToml(config.ToToml(), "printed.toml");
  ASSERT_TRUE(s.ok()) << s << "\n" << config.ToToml();
  EXPECT_EQ(again.GetString("worker.group"), "a\x7f" "b\x01" "c\td\"e\\");
  EXPECT_EQ(again.ClientProperties().at("client.id"), "x\x7f");
}

// deploy/config/roadpulse.toml documents every key at its default.
TEST(ConfigTest, ExampleFileHasEveryKeyAtItsDefault) {
  Config example;
  const std::string path = std::string(ROADPULSE_SOURCE_DIR) + "/deploy/config/roadpulse.toml";
  const absl::Status s = example.MergeFile(path);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(example.Validate().ok());
  std::istringstream lines(example.ToToml());
  Config defaults;
  std::istringstream default_lines(defaults.ToToml());
  for (std::string line, default_line; std::getline(lines, line) && std::getline(default_lines, default_line);) {
    if (line.empty() || line[0] == '#' || line[0] == '[') {
      EXPECT_EQ(line, default_line);
      continue;
    }
    // Same key and value; the example's value comes from the file.
    EXPECT_EQ(line.substr(0, line.find("  # ")), default_line.substr(0, default_line.find("  # ")));
    EXPECT_THAT(line, HasSubstr("  # " + path + ":")) << "key missing from the example file";
  }
  EXPECT_EQ(ConfigKeys().size(), 27u);  // a new key needs a line in the example file
}

class LogTest : public ::testing::Test {
 protected:
  std::string Log(const LogOptions& options, const std::string& message) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    spdlog::logger logger("test", sink);
    logger.set_formatter(MakeLogFormatter(options));
    logger.info(message);
    logger.flush();
    return out.str();
  }
};

TEST_F(LogTest, JsonLinesCarryWorkerPartitionAndOffsets) {
  LogOptions options;
  options.format = "json";
  options.command = "run";
  options.worker_id = "worker-1";
  const std::string line =
      Log(options, "worker: assigned roadpulse.incidents[3], reading from offset 1200 lag=17");
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_THAT(line, AllOf(HasSubstr("{\"time\":\""), HasSubstr("\"level\":\"info\""),
                          HasSubstr("\"command\":\"run\""), HasSubstr("\"worker\":\"worker-1\""),
                          HasSubstr("\"topic\":\"roadpulse.incidents\""), HasSubstr("\"partition\":3"),
                          HasSubstr("\"offset\":1200"), HasSubstr("\"lag\":17")));
  EXPECT_THAT(Log(options, "quote \" and\nnewline"), HasSubstr(R"("msg":"quote \" and\nnewline")"));
}

TEST_F(LogTest, OnlyRunAndServeLinesNameTheWorker) {
  Config config;
  ASSERT_TRUE(config.MergeToml("[worker]\nid = \"w-9\"\n[log]\nlevel = \"warn\"\n", "t.toml").ok());
  EXPECT_EQ(LogOptionsFromConfig(config, "run").worker_id, "w-9");
  EXPECT_EQ(LogOptionsFromConfig(config, "serve").worker_id, "w-9");
  for (const char* command : {"report", "replay", "export", "inspect", "redrive"}) {
    const LogOptions options = LogOptionsFromConfig(config, command);
    EXPECT_EQ(options.worker_id, "") << command;
    EXPECT_EQ(options.level, "warn") << command;
    EXPECT_EQ(options.command, command);
    EXPECT_THAT(Log(options, "x"), Not(HasSubstr("w-9"))) << command;
  }
}

TEST_F(LogTest, SecretsNeverReachALogLine) {
  Config config;
  ASSERT_TRUE(config.MergeToml(kFile, "test.toml").ok());
  for (const char* format : {"text", "json"}) {
    LogOptions options = LogOptionsFromConfig(config, "run");
    options.format = format;
    const std::string line =
        Log(options, "connecting with sasl.password=file-pa55word and token file-t0ken");
    EXPECT_THAT(line, AllOf(Not(HasSubstr("file-pa55word")), Not(HasSubstr("file-t0ken")),
                            HasSubstr("********")))
        << format;
  }
}

}  // namespace
}  // namespace roadpulse
