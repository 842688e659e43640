#include "host/server/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>

#include "host/common/error.h"

extern char** environ;

namespace hashmatch::server {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

long long parse_int(const std::string& text, long long lo, long long hi) {
  const std::string t = trim(text);
  if (t.empty()) throw InvalidArgument("empty value, expected an integer");
  std::size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(t, &pos, 10);
  } catch (const std::exception&) {
    throw InvalidArgument("'" + t + "' is not an integer");
  }
  if (pos != t.size()) throw InvalidArgument("'" + t + "' is not an integer");
  if (v < lo || v > hi) {
    throw InvalidArgument("'" + t + "' is out of range " + std::to_string(lo) + ".." +
                          std::to_string(hi));
  }
  return v;
}

bool parse_bool(const std::string& text) {
  const std::string t = lower(trim(text));
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  throw InvalidArgument("'" + text + "' is not a boolean (true/false)");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',') {
      cur = trim(cur);
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::string choice(const std::string& text, std::initializer_list<const char*> allowed) {
  const std::string t = lower(trim(text));
  std::string all;
  for (const char* a : allowed) {
    if (t == a) return t;
    all += std::string(all.empty() ? "" : ", ") + a;
  }
  throw InvalidArgument("'" + text + "' is not one of " + all);
}

Seconds positive_duration(const std::string& text, double max_s = 86400.0) {
  const Seconds d = parse_duration(text);
  if (d.count() < 0 || d.count() > max_s) {
    throw InvalidArgument("'" + text + "' is out of range (0.." + std::to_string(max_s) + " s)");
  }
  return d;
}

double parse_percent(const std::string& text) {
  const std::string t = trim(text);
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(t, &pos);
  } catch (const std::exception&) {
    throw InvalidArgument("'" + text + "' is not a number");
  }
  if (pos != t.size() || !(v >= 0 && v <= 100)) {
    throw InvalidArgument("'" + text + "' is not a percentage in 0..100");
  }
  return v;
}

std::string format_number(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

enum class Kind { kString, kInt, kBool, kDuration, kBytes, kList, kOptInt };

struct Setting {
  SettingInfo info;
  Kind kind;
  std::function<void(ServerConfig&, const std::string&)> set;
  std::function<std::string(const ServerConfig&)> get;
};

std::string env_name(const std::string& flag) {
  std::string e = "HASHMATCH_";
  for (char c : flag) e.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return e;
}

#define HM_S(field)                                           \
  [](ServerConfig& c, const std::string& v) { c.field = v; }, \
      [](const ServerConfig& c) { return c.field; }
#define HM_I(field, lo, hi)                                         \
  [](ServerConfig& c, const std::string& v) {                       \
    c.field = static_cast<decltype(c.field)>(parse_int(v, lo, hi)); \
  },                                                                \
      [](const ServerConfig& c) { return std::to_string(c.field); }
#define HM_B(field)                                                       \
  [](ServerConfig& c, const std::string& v) { c.field = parse_bool(v); }, \
      [](const ServerConfig& c) { return std::string(c.field ? "true" : "false"); }
#define HM_D(field, max)                                                              \
  [](ServerConfig& c, const std::string& v) { c.field = positive_duration(v, max); }, \
      [](const ServerConfig& c) { return format_duration(c.field); }
#define HM_Z(field, lo)                                                                      \
  [](ServerConfig& c, const std::string& v) {                                                \
    c.field = parse_bytes(v);                                                                \
    if (c.field < (lo)) throw InvalidArgument("'" + v + "' is below " + std::to_string(lo)); \
  },                                                                                         \
      [](const ServerConfig& c) { return std::to_string(c.field); }

const std::vector<Setting>& table() {
  static const std::vector<Setting> t = [] {
    std::vector<Setting> v;
    auto add = [&](std::string key, std::string flag, std::string help, bool reloadable, Kind kind,
                   std::function<void(ServerConfig&, const std::string&)> set,
                   std::function<std::string(const ServerConfig&)> get) {
      const std::string env = env_name(flag);
      v.push_back(
          {{std::move(key), std::move(flag), env, std::move(help), reloadable, kind == Kind::kBool},
           kind,
           std::move(set),
           std::move(get)});
    };
    // process
    add("db", "db", "SQLite hash-list database", false, Kind::kString, HM_S(db));
    add("listen", "listen", "API address HOST:PORT (port 0: any free port)", false, Kind::kString,
        HM_S(listen));
    add("metrics_listen", "metrics-listen", "Prometheus /metrics address HOST:PORT, or off", false,
        Kind::kString, HM_S(metrics_listen));
    add("tokens", "tokens",
        "bearer-token file (YAML); without one the API serves only on loopback, unauthenticated",
        true, Kind::kString, HM_S(tokens));
    add("tls.cert", "tls-cert", "TLS certificate chain (PEM); enables HTTPS", false, Kind::kString,
        HM_S(tls_cert));
    add("tls.key", "tls-key", "TLS private key (PEM)", false, Kind::kString, HM_S(tls_key));
    add("audit_log", "audit-log",
        "append-only JSON-lines audit log of list changes "
        "(default: <db>.audit.jsonl)",
        false, Kind::kString, HM_S(audit_log));
    add(
        "lists", "lists", "lists to load, comma-separated (default: all)", true, Kind::kList,
        [](ServerConfig& c, const std::string& s) { c.lists = split_list(s); },
        [](const ServerConfig& c) { return join(c.lists); });
    add("shutdown_grace", "shutdown-grace", "SIGTERM: most time to drain before exiting", true,
        Kind::kDuration, HM_D(shutdown_grace, 3600));
    add("reload_interval", "reload-interval",
        "how often to look for list changes made by other processes (0: never)", true,
        Kind::kDuration, HM_D(reload_interval, 86400));
    // HTTP
    add("http.threads", "http-threads", "connections served at once", false, Kind::kInt,
        HM_I(http_threads, 1, 4096));
    add("http.listen_backlog", "listen-backlog",
        "connections waiting to be accepted (capped by net.core.somaxconn)", false, Kind::kInt,
        HM_I(listen_backlog, 1, 1 << 20));
    add("http.keep_alive_timeout", "keep-alive-timeout", "idle keep-alive connection timeout",
        false, Kind::kDuration, HM_D(keep_alive_timeout, 3600));
    add("http.keep_alive_max_requests", "keep-alive-max-requests",
        "requests per keep-alive connection", false, Kind::kInt,
        HM_I(keep_alive_max_requests, 1, 1000000));
    add("http.read_timeout", "read-timeout", "timeout reading a request", false, Kind::kDuration,
        HM_D(read_timeout, 3600));
    add("http.write_timeout", "write-timeout", "timeout writing a response", false, Kind::kDuration,
        HM_D(write_timeout, 3600));
    add("http.retry_after", "retry-after", "Retry-After seconds sent with 429", true, Kind::kInt,
        HM_I(retry_after_seconds, 0, 3600));
    add("http.access_log", "access-log", "log every request to stderr", true, Kind::kBool,
        HM_B(access_log));
    // limits
    add("limits.max_body_bytes", "max-body-bytes", "largest request body (413 beyond)", false,
        Kind::kBytes, HM_Z(max_body_bytes, 1024ull));
    add("limits.max_pixels", "max-pixels",
        "largest image (width x height), checked from the header", true, Kind::kBytes,
        HM_Z(max_pixels, 1ull));
    add("limits.max_dimension", "max-dimension", "largest image side in pixels", true, Kind::kInt,
        HM_I(max_dimension, 1, 1 << 20));
    add("limits.max_hashes_per_request", "max-hashes-per-request",
        "most queries in one /v1/match/hashes request", true, Kind::kInt,
        HM_I(max_hashes_per_request, 1, 10'000'000));
    // decoding
    add("decode.threads", "decode-threads", "decoder threads (0: all cores)", false, Kind::kInt,
        HM_I(decode_threads, 0, 1024));
    add("decode.queue", "decode-queue", "media waiting for a decoder (429 beyond)", true,
        Kind::kInt, HM_I(decode_queue, 1, 1'000'000));
    add("decode.pdq_prescale", "pdq-prescale",
        "0: full-resolution PDQ (HMA, pdqhash); 512: reference CLI pre-resize", true, Kind::kInt,
        HM_I(pdq_prescale, 0, 1 << 16));
    // video
    add("video.sessions", "video-sessions",
        "videos decoded at once, beside the image decoders (0: half of decode.threads, at least 2)",
        false, Kind::kInt, HM_I(video_sessions, 0, 1024));
    add("video.queue", "video-queue", "videos waiting for a video session (429 beyond)", true,
        Kind::kInt, HM_I(video_queue, 1, 1'000'000));
    add(
        "video.seconds_per_hash", "vpdq-seconds-per-hash",
        "vPDQ: hash one frame per this many seconds (0: every frame)", true, Kind::kString,
        [](ServerConfig& c, const std::string& v) {
          const Seconds d = positive_duration(v, 3600);
          c.video_seconds_per_hash = d.count();
        },
        [](const ServerConfig& c) { return format_duration(Seconds(c.video_seconds_per_hash)); });
    add(
        "video.decoder", "video-decoder",
        "video decoder: auto (NVDEC when a GPU answers), cpu, cuda", true, Kind::kString,
        [](ServerConfig& c, const std::string& s) {
          c.video_decoder = choice(s, {"auto", "cpu", "cuda"});
        },
        [](const ServerConfig& c) { return c.video_decoder; });
    add("video.threads", "video-threads", "decoder threads per video (0: automatic)", true,
        Kind::kInt, HM_I(video_threads, 0, 256));
    add("video.time_budget", "video-time-budget", "wall-clock limit for hashing one video", true,
        Kind::kDuration, HM_D(video_time_budget, 86400));
    add("video.max_duration", "video-max-duration", "longer videos are refused", true,
        Kind::kDuration, HM_D(video_max_duration, 7 * 86400));
    add(
        "video.match_percent", "vpdq-match-percent",
        "listed videos: a match needs this share (%) of the query's frames (vPDQ P_q)", true,
        Kind::kString,
        [](ServerConfig& c, const std::string& v) { c.video_match_percent = parse_percent(v); },
        [](const ServerConfig& c) { return format_number(c.video_match_percent); });
    add(
        "video.compared_match_percent", "vpdq-compared-match-percent",
        "... and this share (%) of the listed video's frames (vPDQ P_c)", true, Kind::kString,
        [](ServerConfig& c, const std::string& v) {
          c.video_compared_match_percent = parse_percent(v);
        },
        [](const ServerConfig& c) { return format_number(c.video_compared_match_percent); });
    // PDQ batching
    add(
        "batching.backend", "backend", "PDQ hashing backend: auto, cpu or cuda", false,
        Kind::kString,
        [](ServerConfig& c, const std::string& s) {
          c.backend = choice(s, {"auto", "cpu", "cuda"});
        },
        [](const ServerConfig& c) { return c.backend; });
    add("batching.max_batch_frames", "max-batch-frames", "dispatch a batch at this many frames",
        true, Kind::kInt, HM_I(max_batch_frames, 1, 65536));
    add("batching.max_queue_delay", "max-queue-delay",
        "... or when its oldest frame has waited this long", true, Kind::kDuration,
        HM_D(max_queue_delay, 10));
    add("batching.max_queue_frames", "max-queue-frames", "frames waiting (429 beyond)", true,
        Kind::kInt, HM_I(max_queue_frames, 1, 10'000'000));
    add("batching.max_queue_bytes", "max-queue-bytes", "decoded pixels waiting (429 beyond)", true,
        Kind::kBytes, HM_Z(max_queue_bytes, 1ull << 20));
    add("batching.batches_in_flight", "batches-in-flight",
        "batches executing at once per queue (0: CPU all cores, GPU 2)", false, Kind::kInt,
        HM_I(batches_in_flight, 0, 256));
    // matching
    add(
        "match.backend", "match-backend", "PDQ matching backend: auto, cpu or cuda", false,
        Kind::kString,
        [](ServerConfig& c, const std::string& s) {
          c.match_backend = choice(s, {"auto", "cpu", "cuda"});
        },
        [](const ServerConfig& c) { return c.match_backend; });
    add(
        "match.threshold", "threshold",
        "PDQ match threshold for every list, inclusive (default: each list's own)", true,
        Kind::kOptInt,
        [](ServerConfig& c, const std::string& s) {
          const std::string t = lower(trim(s));
          if (t.empty() || t == "default" || t == "null") {
            c.threshold.reset();
          } else {
            c.threshold = static_cast<int>(parse_int(t, 0, 256));
          }
        },
        [](const ServerConfig& c) { return c.threshold ? std::to_string(*c.threshold) : ""; });
    add("match.dihedral", "dihedral", "match media by all 8 dihedral variants", true, Kind::kBool,
        HM_B(dihedral));
    add("match.min_quality", "min-quality", "PDQ hashes of lower quality are not matched", true,
        Kind::kInt, HM_I(min_quality, 0, 100));
    add("match.max_batch_queries", "match-max-batch", "queries per matching batch", true,
        Kind::kInt, HM_I(match_max_batch, 1, 1'000'000));
    add("match.max_queue_delay", "match-max-queue-delay",
        "dispatch a matching batch when its oldest query has waited this long", true,
        Kind::kDuration, HM_D(match_max_queue_delay, 10));
    add("match.max_queue_queries", "match-max-queue", "queries waiting (429 beyond)", true,
        Kind::kInt, HM_I(match_max_queue, 1, 100'000'000));
    add("match.batches_in_flight", "match-batches-in-flight", "matching batches at once", false,
        Kind::kInt, HM_I(match_batches_in_flight, 1, 64));
    // triage: the seen-before memory (docs/triage.md)
    add("triage.memory", "triage-memory",
        "seen-before memory database (typically the db); /v1/match answers carry seen_before "
        "for media that matched no list (empty: off)",
        false, Kind::kString, HM_S(triage_memory));
    add("triage.memory_read_only", "triage-memory-read-only",
        "look arrivals up in the memory without recording them", false, Kind::kBool,
        HM_B(triage_memory_read_only));
    add("triage.threshold", "triage-threshold",
        "PDQ distance within which a remembered picture is the same (inclusive)", false,
        Kind::kInt, HM_I(triage_threshold, 0, 256));
    return v;
  }();
  return t;
}

#undef HM_S
#undef HM_I
#undef HM_B
#undef HM_D
#undef HM_Z

const Setting* find_by_key(const std::string& key) {
  for (const Setting& s : table()) {
    if (s.info.key == key) return &s;
  }
  return nullptr;
}

const Setting* find_by_flag(const std::string& flag) {
  for (const Setting& s : table()) {
    if (s.info.flag == flag) return &s;
  }
  return nullptr;
}

void apply(const Setting& s, ServerConfig& cfg, const std::string& value,
           const std::string& where) {
  try {
    s.set(cfg, value);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(where + ": " + e.what());
  }
}

void walk_yaml(const YAML::Node& node, const std::string& prefix, ServerConfig& cfg,
               const std::string& file) {
  if (!node.IsMap()) {
    throw InvalidArgument(file + ": " + (prefix.empty() ? "the document" : "'" + prefix + "'") +
                          " must be a mapping");
  }
  for (const auto& kv : node) {
    const std::string name = kv.first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const Setting* s = find_by_key(key);
    const YAML::Node& v = kv.second;
    if (!s) {
      if (v.IsMap()) {
        bool section = false;
        for (const Setting& t : table()) {
          if (t.info.key.rfind(key + ".", 0) == 0) section = true;
        }
        if (section) {
          walk_yaml(v, key, cfg, file);
          continue;
        }
      }
      throw InvalidArgument(file + ": unknown setting '" + key + "'");
    }
    const std::string where = file + ": " + key;
    if (v.IsNull()) {
      apply(*s, cfg, "", where);
    } else if (v.IsSequence()) {
      if (s->kind != Kind::kList) throw InvalidArgument(where + ": expected a single value");
      std::vector<std::string> items;
      for (const auto& item : v) items.push_back(item.as<std::string>());
      apply(*s, cfg, join(items), where);
    } else if (v.IsScalar()) {
      apply(*s, cfg, v.as<std::string>(), where);
    } else {
      throw InvalidArgument(where + ": expected a value, found a mapping");
    }
  }
}

void validate(const ServerConfig& c) {
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    throw InvalidArgument("TLS needs both tls.cert (--tls-cert) and tls.key (--tls-key)");
  }
  parse_host_port(c.listen);
  if (lower(c.metrics_listen) != "off" && !c.metrics_listen.empty()) {
    parse_host_port(c.metrics_listen);
  }
  if (c.db.empty()) throw InvalidArgument("db (--db) must name the list database");
  if (c.pdq_prescale != 0 && c.pdq_prescale < 64) {
    throw InvalidArgument("decode.pdq_prescale must be 0 or at least 64");
  }
}

std::string yaml_scalar(const std::string& v) {
  if (v.empty()) return "\"\"";
  YAML::Emitter e;
  e << v;
  return e.c_str();
}

}  // namespace

const std::vector<SettingInfo>& settings() {
  static const std::vector<SettingInfo> v = [] {
    std::vector<SettingInfo> out;
    for (const Setting& s : table()) out.push_back(s.info);
    return out;
  }();
  return v;
}

Seconds parse_duration(const std::string& text) {
  const std::string t = lower(trim(text));
  if (t.empty()) throw InvalidArgument("empty duration");
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(t, &pos);
  } catch (const std::exception&) {
    throw InvalidArgument("'" + text + "' is not a duration (e.g. 2ms, 1.5s)");
  }
  const std::string unit = trim(t.substr(pos));
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "ms") {
    scale = 1e-3;
  } else if (unit == "us" || unit == "µs") {
    scale = 1e-6;
  } else if (unit == "m" || unit == "min") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else {
    throw InvalidArgument("'" + text + "': unknown duration unit '" + unit + "' (us, ms, s, m, h)");
  }
  if (!std::isfinite(v)) throw InvalidArgument("'" + text + "' is not a finite duration");
  return Seconds(v * scale);
}

std::string format_duration(Seconds d) {
  const double s = d.count();
  std::ostringstream o;
  if (s != 0 && std::fabs(s) < 1e-3) {
    o << s * 1e6 << "us";
  } else if (s != 0 && std::fabs(s) < 1) {
    o << s * 1e3 << "ms";
  } else {
    o << s << "s";
  }
  return o.str();
}

uint64_t parse_bytes(const std::string& text) {
  const std::string t = trim(text);
  if (t.empty()) throw InvalidArgument("empty size");
  std::size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i == 0) throw InvalidArgument("'" + text + "' is not a size (e.g. 64MiB)");
  const std::string digits = t.substr(0, i);
  const std::string unit = lower(trim(t.substr(i)));
  uint64_t scale = 1;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "k" || unit == "kib") {
    scale = 1ull << 10;
  } else if (unit == "m" || unit == "mib") {
    scale = 1ull << 20;
  } else if (unit == "g" || unit == "gib") {
    scale = 1ull << 30;
  } else if (unit == "kb") {
    scale = 1000ull;
  } else if (unit == "mb") {
    scale = 1000ull * 1000;
  } else if (unit == "gb") {
    scale = 1000ull * 1000 * 1000;
  } else {
    throw InvalidArgument("'" + text + "': unknown size unit '" + unit +
                          "' (KiB, MiB, GiB, kB, MB, GB)");
  }
  if (digits.size() > 15) throw InvalidArgument("'" + text + "' is too large");
  const uint64_t n = std::stoull(digits);
  if (n > (uint64_t{1} << 50) / scale) throw InvalidArgument("'" + text + "' is too large");
  return n * scale;
}

HostPort parse_host_port(const std::string& text) {
  const std::string t = trim(text);
  HostPort hp;
  std::string port;
  if (!t.empty() && t[0] == '[') {
    const auto close = t.find(']');
    if (close == std::string::npos || close + 1 >= t.size() || t[close + 1] != ':') {
      throw InvalidArgument("'" + text + "' is not [IPv6]:PORT");
    }
    hp.host = t.substr(1, close - 1);
    port = t.substr(close + 2);
  } else {
    const auto colon = t.rfind(':');
    if (colon == std::string::npos) throw InvalidArgument("'" + text + "' is not HOST:PORT");
    hp.host = t.substr(0, colon);
    port = t.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) {
      throw InvalidArgument("'" + text + "': write IPv6 addresses as [ADDRESS]:PORT");
    }
  }
  try {
    hp.port = static_cast<int>(parse_int(port, 0, 65535));
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("'" + text + "': bad port: " + e.what());
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  return hp;
}

bool is_loopback_host(const std::string& host) {
  const std::string h = lower(host);
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
}

std::map<std::string, std::string> hashmatch_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    if (kv.rfind("HASHMATCH_", 0) != 0) continue;
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

ServerConfig load_config(const std::string& config_file,
                         const std::vector<std::pair<std::string, std::string>>& flags,
                         const std::map<std::string, std::string>& env) {
  ServerConfig cfg;
  cfg.config_file = config_file;
  if (!config_file.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(config_file);
    } catch (const YAML::BadFile&) {
      throw InvalidArgument("cannot read the configuration file " + config_file);
    } catch (const YAML::Exception& e) {
      throw InvalidArgument(config_file + ": " + e.what());
    }
    if (!root.IsNull()) {
      try {
        walk_yaml(root, "", cfg, config_file);
      } catch (const YAML::Exception& e) {
        throw InvalidArgument(config_file + ": " + e.what());
      }
    }
  }
  for (const Setting& s : table()) {
    auto it = env.find(s.info.env);
    if (it != env.end()) apply(s, cfg, it->second, "environment " + s.info.env);
  }
  for (const auto& [flag, value] : flags) {
    const Setting* s = find_by_flag(flag);
    if (!s) throw InvalidArgument("unknown option --" + flag);
    apply(*s, cfg, value, "--" + flag);
  }
  validate(cfg);
  return cfg;
}

std::string to_yaml(const ServerConfig& cfg) {
  std::ostringstream o;
  o << "# hashmatch serve: effective configuration";
  if (!cfg.config_file.empty()) o << " (file: " << cfg.config_file << ")";
  o << "\n# precedence: default < file < HASHMATCH_* environment < flag\n";
  std::string section;
  for (const Setting& s : table()) {
    const auto dot = s.info.key.find('.');
    const std::string sec = dot == std::string::npos ? "" : s.info.key.substr(0, dot);
    const std::string name = dot == std::string::npos ? s.info.key : s.info.key.substr(dot + 1);
    if (sec != section) {
      if (!sec.empty()) o << sec << ":\n";
      section = sec;
    }
    const std::string indent = sec.empty() ? "" : "  ";
    const std::string value = s.get(cfg);
    o << indent << name << ":";
    if (s.kind == Kind::kList) {
      std::vector<std::string> items = split_list(value);
      o << " [";
      for (std::size_t i = 0; i < items.size(); ++i) o << (i ? ", " : "") << yaml_scalar(items[i]);
      o << "]";
    } else if (s.kind == Kind::kOptInt && value.empty()) {
      o << " null";
    } else {
      o << " " << yaml_scalar(value);
    }
    o << "  # --" << s.info.flag << ", " << s.info.env << (s.info.reloadable ? ", SIGHUP" : "")
      << "\n";
  }
  return o.str();
}

std::vector<std::string> changed_settings(const ServerConfig& a, const ServerConfig& b) {
  std::vector<std::string> out;
  for (const Setting& s : table()) {
    if (s.get(a) != s.get(b)) out.push_back(s.info.key);
  }
  return out;
}

ServerConfig merge_reloadable(const ServerConfig& running, const ServerConfig& fresh,
                              std::vector<std::string>* restart_needed) {
  ServerConfig out = running;
  for (const Setting& s : table()) {
    const std::string v = s.get(fresh);
    if (v == s.get(running)) continue;
    if (s.info.reloadable) {
      s.set(out, v);
    } else if (restart_needed) {
      restart_needed->push_back(s.info.key);
    }
  }
  out.config_file = fresh.config_file;
  return out;
}

}  // namespace hashmatch::server
