// Configuration of `hashmatch serve`.
//
// Every setting has a default, a YAML key (nested sections in the --config file), a command-line
// flag and an environment variable HASHMATCH_*. Precedence, lowest first: default, YAML file,
// environment, flag. The table in config.cc is the single source of truth: it drives parsing,
// --print-config, --help and docs/server.md's reference. Settings marked reloadable take effect
// on SIGHUP; the others (addresses, TLS, thread counts) need a restart, and a reload that changes
// them says so and keeps the running values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hashmatch::server {

using Seconds = std::chrono::duration<double>;

struct ServerConfig {
  std::string config_file;  // where the YAML came from ("" when none)

  // process
  std::string db = "hashmatch.db";
  std::string listen = "127.0.0.1:8080";
  std::string metrics_listen = "127.0.0.1:9464";  // "off" disables the metrics endpoint
  std::string tokens;                             // token file; "" = loopback only, no auth
  std::string tls_cert, tls_key;
  std::string audit_log;           // "" = <db>.audit.jsonl
  std::vector<std::string> lists;  // lists to load (empty: all)
  Seconds shutdown_grace{30.0};
  Seconds reload_interval{5.0};  // polling the database for changes made elsewhere; 0: off

  // HTTP
  int http_threads = 64;
  int listen_backlog =
      4096;  // connections waiting to be accepted (the kernel caps it at somaxconn)
  Seconds keep_alive_timeout{5.0};
  int keep_alive_max_requests = 1000;
  Seconds read_timeout{30.0};
  Seconds write_timeout{30.0};
  int retry_after_seconds = 1;
  bool access_log = false;

  // limits
  uint64_t max_body_bytes = 64ull << 20;
  uint64_t max_pixels = 100'000'000;
  int max_dimension = 65'500;
  int max_hashes_per_request = 10'000;

  // decoding
  int decode_threads = 0;  // 0: all cores
  int decode_queue = 256;  // media waiting for a decoder; beyond: 429
  int pdq_prescale = 0;

  // video (vPDQ): videos are decoded on a pool of their own (video_sessions threads, so images
  // never wait behind a long video); their frames go through the same PDQ queues
  int video_sessions = 0;                     // videos decoded at once (0: half the decode threads, >= 2)
  int video_queue = 64;                       // videos waiting for a session; beyond: 429
  double video_seconds_per_hash = 1.0;        // 0: every frame
  std::string video_decoder = "auto";         // auto | cpu | cuda (NVDEC)
  int video_threads = 0;                      // decoder threads per video (0: automatic)
  Seconds video_time_budget{120.0};           // wall-clock limit per video
  Seconds video_max_duration{4 * 3600.0};     // longer videos are refused
  double video_match_percent = 80.0;          // vPDQ P_q against listed videos
  double video_compared_match_percent = 0.0;  // vPDQ P_c

  // PDQ batching (one queue per GPU, or one CPU queue)
  std::string backend = "auto";  // auto | cpu | cuda
  int max_batch_frames = 64;
  Seconds max_queue_delay{0.002};
  int max_queue_frames = 1024;
  uint64_t max_queue_bytes = 1ull << 30;  // decoded pixels waiting; beyond: 429
  int batches_in_flight = 0;              // per queue; 0: auto (CPU: cores, GPU: 2)

  // matching
  std::string match_backend = "auto";  // auto | cpu | cuda
  std::optional<int> threshold;        // PDQ threshold for every list (default: each list's own)
  bool dihedral = true;                // match the 8 dihedral variants of media
  int min_quality = 50;                // PDQ hashes of lower quality are not matched
  int match_max_batch = 4096;          // queries per matching batch
  Seconds match_max_queue_delay{0.001};
  int match_max_queue = 65536;  // queries waiting; beyond: 429
  int match_batches_in_flight = 1;

  // triage: seen-before memory (docs/triage.md)
  std::string triage_memory;             // database path; "" = off
  bool triage_memory_read_only = false;  // look up, never record arrivals
  int triage_threshold = 31;             // PDQ: same picture iff distance <= this

  // Derived.
  std::string audit_log_path() const { return audit_log.empty() ? db + ".audit.jsonl" : audit_log; }
  bool tls() const { return !tls_cert.empty(); }
};

// One setting of the table.
struct SettingInfo {
  std::string key;   // "batching.max_batch_frames"
  std::string flag;  // "max-batch-frames"
  std::string env;   // "HASHMATCH_MAX_BATCH_FRAMES"
  std::string help;
  bool reloadable = false;
  bool boolean = false;  // a flag that may be given without a value (--access-log)
};
const std::vector<SettingInfo>& settings();

// Builds the effective configuration: defaults, then the YAML file (`--config FILE`, or
// HASHMATCH_CONFIG), then the environment, then the flags. `flags` are (flag name without "--",
// value) pairs. Throws InvalidArgument naming the setting and the source on a bad value, an unknown
// key or flag, or an inconsistent combination (TLS certificate without key, ...).
ServerConfig load_config(const std::string& config_file,
                         const std::vector<std::pair<std::string, std::string>>& flags,
                         const std::map<std::string, std::string>& env);

// The process environment's HASHMATCH_* variables.
std::map<std::string, std::string> hashmatch_environment();

// The effective configuration as a YAML document (what --print-config prints; comments give each
// setting's flag and environment variable).
std::string to_yaml(const ServerConfig& cfg);

// Names of the settings whose values differ between a and b.
std::vector<std::string> changed_settings(const ServerConfig& a, const ServerConfig& b);

// `running` with the reloadable settings of `fresh` applied; the keys of settings that changed but
// need a restart go to *restart_needed.
ServerConfig merge_reloadable(const ServerConfig& running, const ServerConfig& fresh,
                              std::vector<std::string>* restart_needed);

// Parses a duration: "2ms", "500us", "1.5s", "2m"; a bare number is seconds. Throws
// InvalidArgument.
Seconds parse_duration(const std::string& text);
std::string format_duration(Seconds d);
// Parses a byte size: "1048576", "64KiB", "64MiB", "1GiB", "10MB" (decimal), "1G" (binary).
uint64_t parse_bytes(const std::string& text);

// "HOST:PORT" (HOST may be empty, a name, an IPv4 address or [IPv6]). Throws InvalidArgument.
struct HostPort {
  std::string host;
  int port = 0;
};
HostPort parse_host_port(const std::string& text);
// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

}  // namespace hashmatch::server
