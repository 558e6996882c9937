// libFuzzer target for configuration files (app/config.h). Input bytes: a
// configuration file (TOML), merged with Config::MergeToml over the defaults.
// Validate() is not called: it hands [kafka] properties to librdkafka, some
// of which load files or shared libraries (plugin.library.paths).
//
// Checked when it merges: the effective configuration printed by ToToml()
// (what `roadpulse config check` shows) merges again, and gives back the same
// value for every key that is not a secret (secrets are printed masked);
// Topics() lists each topic once.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "app/config.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse {
namespace {

void CheckSameValues(const Config& a, const Config& b) {
  for (const ConfigKeyInfo& k : ConfigKeys()) {
    if (IsSecretKey(k.key)) continue;
    if (k.type == "string") {
      FUZZ_CHECK(a.GetString(k.key) == b.GetString(k.key));
    } else if (k.type == "integer") {
      FUZZ_CHECK(a.GetInt(k.key) == b.GetInt(k.key));
    } else {
      FUZZ_CHECK(a.GetDouble(k.key) == b.GetDouble(k.key));
    }
  }
  FUZZ_CHECK(a.BootstrapServers() == b.BootstrapServers());
  const KafkaProperties pa = a.ClientProperties();
  const KafkaProperties pb = b.ClientProperties();
  FUZZ_CHECK(pa.size() == pb.size());
  for (const auto& [name, value] : pa) {
    auto it = pb.find(name);
    FUZZ_CHECK(it != pb.end());
    if (!IsSecretKey(name)) FUZZ_CHECK(it->second == value);
  }
}

int TestOneInput(const uint8_t* data, size_t size) {
  Config config;
  const absl::Status s = config.MergeToml(fuzz::AsText(data, size), "fuzz.toml");
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const std::string effective = config.ToToml();
  Config again;
  const absl::Status s2 = again.MergeToml(effective, "effective.toml");
  if (!s2.ok()) {
    std::fprintf(stderr, "%s\n--- ToToml() output:\n%s\n", s2.ToString().c_str(),
                 effective.c_str());
  }
  FUZZ_CHECK(s2.ok());
  CheckSameValues(config, again);
  std::set<std::string> topics;
  for (const TopicSettings& t : config.Topics()) FUZZ_CHECK(topics.insert(t.key).second);
  (void)config.SecretValues();
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
