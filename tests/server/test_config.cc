// Configuration: defaults, precedence (file < environment < flag), parsing of every kind of value,
// errors that name the setting and the source, --print-config round trip, reload merging.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>

#include "host/common/error.h"
#include "host/server/config.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::server {
namespace {

using Flags = std::vector<std::pair<std::string, std::string>>;
using Env = std::map<std::string, std::string>;

std::string write(const test::TempDir& d, const std::string& name, const std::string& text) {
  const auto p = d / name;
  std::ofstream(p) << text;
  return p.string();
}

TEST(Config, DefaultsMatchTheSpecification) {
  const ServerConfig c = load_config("", {}, {});
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(c.db, "hashmatch.db");
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_EQ(c.audit_log_path(), "hashmatch.db.audit.jsonl");
  EXPECT_EQ(c.backend, "auto");
}

TEST(Config, PrecedenceIsDefaultFileEnvironmentFlag) {
  test::TempDir d;
  const std::string f = write(d, "c.yaml",
                              "db: file.db\n"
                              "listen: 127.0.0.1:1111\n"
                              "batching:\n  max_batch_frames: 10\n  max_queue_delay: 5ms\n"
                              "match:\n  threshold: 20\n");
  ServerConfig c = load_config(f, {}, {});
  EXPECT_EQ(c.db, "file.db");
  EXPECT_EQ(c.listen, "127.0.0.1:1111");
  EXPECT_EQ(c.max_batch_frames, 10);
  EXPECT_DOUBLE_EQ(c.max_queue_delay.count(), 0.005);
  ASSERT_TRUE(c.threshold.has_value());
  EXPECT_EQ(*c.threshold, 20);

  c = load_config(f, {}, Env{{"HASHMATCH_DB", "env.db"}, {"HASHMATCH_MAX_BATCH_FRAMES", "12"}});
  EXPECT_EQ(c.db, "env.db");
  EXPECT_EQ(c.max_batch_frames, 12);
  EXPECT_EQ(c.listen, "127.0.0.1:1111");

  c = load_config(f, Flags{{"db", "flag.db"}, {"max-queue-delay", "250us"}},
                  Env{{"HASHMATCH_DB", "env.db"}});
  EXPECT_EQ(c.db, "flag.db");
  EXPECT_DOUBLE_EQ(c.max_queue_delay.count(), 250e-6);
}

TEST(Config, EverySettingHasAFlagAnEnvironmentVariableAndAKey) {
  std::set<std::string> flags, envs, keys;
  for (const SettingInfo& s : settings()) {
    EXPECT_TRUE(flags.insert(s.flag).second) << s.flag;
    EXPECT_TRUE(envs.insert(s.env).second) << s.env;
    EXPECT_TRUE(keys.insert(s.key).second) << s.key;
    EXPECT_EQ(s.env.rfind("HASHMATCH_", 0), 0u) << s.env;
    EXPECT_FALSE(s.help.empty()) << s.key;
  }
  for (const char* f : {"db", "listen", "metrics-listen", "tokens", "max-batch-frames",
                        "max-queue-delay", "tls-cert", "tls-key", "shutdown-grace"}) {
    EXPECT_TRUE(flags.count(f)) << "--" << f << " is part of the specification";
  }
}

TEST(Config, TheReferenceInDocsServerMdListsEverySetting) {
  std::ifstream in(std::string(HASHMATCH_SOURCE_DIR) + "/docs/server.md");
  ASSERT_TRUE(in) << "docs/server.md missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const SettingInfo& s : settings()) {
    EXPECT_NE(doc.find("| `" + s.key + "` |"), std::string::npos) << s.key << " not in the table";
    EXPECT_NE(doc.find("`--" + s.flag + "`"), std::string::npos) << "--" << s.flag;
    EXPECT_NE(doc.find("`" + s.env + "`"), std::string::npos) << s.env;
  }
}

TEST(Config, BadValuesNameTheSettingAndTheSource) {
  test::TempDir d;
  auto expect_error = [](auto fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected one mentioning " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(
      [] {
        load_config("", Flags{{"max-batch-frames", "zero"}}, {});
      },
      "--max-batch-frames");
  expect_error([] { load_config("", Flags{{"max-batch-frames", "0"}}, {}); }, "out of range");
  expect_error(
      [] {
        load_config("", {}, Env{{"HASHMATCH_MAX_QUEUE_DELAY", "2 parsecs"}});
      },
      "HASHMATCH_MAX_QUEUE_DELAY");
  expect_error([] { load_config("", Flags{{"listen", "localhost"}}, {}); }, "HOST:PORT");
  expect_error([] { load_config("", Flags{{"listen", "127.0.0.1:70000"}}, {}); }, "port");
  expect_error([] { load_config("", Flags{{"no-such-flag", "1"}}, {}); }, "--no-such-flag");
  expect_error([] { load_config("", Flags{{"tls-cert", "a.pem"}}, {}); }, "tls.key");
  expect_error([] { load_config("", Flags{{"backend", "quantum"}}, {}); }, "auto, cpu, cuda");
  const std::string bad_key = write(d, "k.yaml", "batching:\n  max_batch_frame: 3\n");
  expect_error([&] { load_config(bad_key, {}, {}); }, "batching.max_batch_frame");
  const std::string bad_yaml = write(d, "y.yaml", "db: [unclosed\n");
  expect_error([&] { load_config(bad_yaml, {}, {}); }, "y.yaml");
  expect_error([&] { load_config((d / "missing.yaml").string(), {}, {}); }, "missing.yaml");
}

TEST(Config, DurationsSizesAndAddresses) {
  EXPECT_DOUBLE_EQ(parse_duration("2ms").count(), 0.002);
  EXPECT_DOUBLE_EQ(parse_duration("1.5s").count(), 1.5);
  EXPECT_DOUBLE_EQ(parse_duration("3").count(), 3.0);
  EXPECT_DOUBLE_EQ(parse_duration("2m").count(), 120.0);
  EXPECT_DOUBLE_EQ(parse_duration("500us").count(), 0.0005);
  EXPECT_THROW(parse_duration("fast"), InvalidArgument);
  EXPECT_EQ(parse_bytes("64MiB"), 64ull << 20);
  EXPECT_EQ(parse_bytes("1G"), 1ull << 30);
  EXPECT_EQ(parse_bytes("10MB"), 10'000'000ull);
  EXPECT_EQ(parse_bytes("4096"), 4096ull);
  EXPECT_THROW(parse_bytes("-1"), InvalidArgument);
  EXPECT_THROW(parse_bytes("12 parsecs"), InvalidArgument);
  auto hp = parse_host_port("127.0.0.1:0");
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 0);
  hp = parse_host_port("[::1]:9464");
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 9464);
  hp = parse_host_port(":8080");
  EXPECT_EQ(hp.host, "0.0.0.0");
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
}

TEST(Config, PrintedConfigurationLoadsBackToTheSameValues) {
  test::TempDir d;
  const ServerConfig c = load_config("",
                                     Flags{{"db", "x.db"},
                                           {"lists", "a,b"},
                                           {"threshold", "17"},
                                           {"max-queue-delay", "3ms"},
                                           {"dihedral", "false"},
                                           {"max-body-bytes", "1MiB"},
                                           {"vpdq-seconds-per-hash", "0.5"}},
                                     {});
  const std::string yaml = to_yaml(c);
  EXPECT_NE(yaml.find("--max-batch-frames"), std::string::npos) << "comments name the flags";
  const ServerConfig back = load_config(write(d, "p.yaml", yaml), {}, {});
  EXPECT_TRUE(changed_settings(c, back).empty());
  EXPECT_EQ(back.lists, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(back.threshold, 17);
  EXPECT_FALSE(back.dihedral);
  EXPECT_EQ(back.max_body_bytes, 1ull << 20);
  EXPECT_DOUBLE_EQ(back.video_seconds_per_hash, 0.5);
}

TEST(Config, ReloadAppliesOnlyReloadableSettings) {
  const ServerConfig running = load_config("", Flags{{"listen", "127.0.0.1:1"}}, {});
  const ServerConfig fresh = load_config(
      "", Flags{{"listen", "127.0.0.1:2"}, {"max-batch-frames", "7"}, {"http-threads", "3"}}, {});
  std::vector<std::string> restart;
  const ServerConfig merged = merge_reloadable(running, fresh, &restart);
  EXPECT_EQ(merged.listen, "127.0.0.1:1");
  EXPECT_EQ(merged.http_threads, running.http_threads);
  EXPECT_EQ(merged.max_batch_frames, 7);
  EXPECT_EQ(restart, (std::vector<std::string>{"listen", "http.threads"}));
}

}  // namespace
}  // namespace hashmatch::server
