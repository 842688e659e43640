// `hashmatch serve`: the process. Owns the configuration (reloadable parts swapped atomically), the
// token store, the media and match pipelines, the list state and administration, the HTTP server
// (api.cc) and the metrics exporter.
//
// Life cycle: start() binds both addresses (throws when it cannot), starts loading the lists in the
// background (readiness false until done) and serves at once (/healthz, /v1/hash work while the
// lists load). reload() (SIGHUP) re-reads the configuration file, the token file and the lists
// without dropping a request. drain() (SIGTERM) makes readiness false, stops accepting
// connections, lets every request already accepted finish (their queued frames and queries are
// dispatched without waiting for the batching delay), and returns whether that happened within
// shutdown_grace.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "host/server/auth.h"
#include "host/server/config.h"

namespace httplib {
class Server;
class ContentReader;
struct Request;
struct Response;
}  // namespace httplib

namespace hashmatch {
struct QueryOptions;
class ListSnapshot;
namespace triage {
class SeenMemory;
}  // namespace triage
namespace video {
class VideoIndex;
}  // namespace video
namespace monitoring {
class Metrics;
class MetricsExporter;
class GpuCollector;
}  // namespace monitoring
}  // namespace hashmatch

namespace hashmatch::server {

class MediaPipeline;
struct MediaOutcome;
class MatchPipeline;
class ListsState;
class ListAdmin;
struct Actor;

class Server {
 public:
  // `flags` are the command-line flags, applied again over the file on every reload.
  Server(ServerConfig cfg, std::vector<std::pair<std::string, std::string>> flags);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string api_address() const;  // "http(s)://HOST:PORT"
  bool ready() const;

  // SIGHUP. Returns false (and keeps everything as it was) when the new configuration is invalid.
  bool reload();
  // SIGTERM. True when every accepted request finished within the grace period.
  bool drain();

  // Blocks until the lists finished loading (tests, benchmarks).
  void wait_lists_loaded();

  // Logs a line to stderr with the "hashmatch serve: " prefix (thread-safe).
  static void log(const std::string& line);

 private:
  struct Ctx;
  using Handler = void (Server::*)(const httplib::Request&, httplib::Response&, Ctx&);

  void install_routes();
  void route(const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader* reader, const char* endpoint, int scope, Handler h);
  void on_error(const httplib::Request& req, httplib::Response& res);
  void authorize(const httplib::Request& req, int scope, Ctx& ctx);

  void h_healthz(const httplib::Request&, httplib::Response&, Ctx&);
  void h_readyz(const httplib::Request&, httplib::Response&, Ctx&);
  void h_hash(const httplib::Request&, httplib::Response&, Ctx&);
  void h_match(const httplib::Request&, httplib::Response&, Ctx&);
  void h_match_hashes(const httplib::Request&, httplib::Response&, Ctx&);
  void h_lists(const httplib::Request&, httplib::Response&, Ctx&);
  void h_list(const httplib::Request&, httplib::Response&, Ctx&);
  void h_add_entries(const httplib::Request&, httplib::Response&, Ctx&);
  void h_delete_entry(const httplib::Request&, httplib::Response&, Ctx&);

  void match_video(const MediaOutcome& out, const std::shared_ptr<const QueryOptions>& opts,
                   const std::shared_ptr<const ListSnapshot>& snap,
                   const std::shared_ptr<const video::VideoIndex>& index, const ServerConfig& cfg,
                   nlohmann::json& j, nlohmann::json& matches);
  std::shared_ptr<const QueryOptions> query_options(const httplib::Request& req,
                                                    const ListSnapshot& snap, bool media,
                                                    const nlohmann::json* body);
  void apply_config(std::shared_ptr<const ServerConfig> cfg);
  void poll_lists();

  std::shared_ptr<const ServerConfig> config() const { return std::atomic_load(&cfg_); }
  std::shared_ptr<const TokenStore> tokens() const { return std::atomic_load(&tokens_); }

  std::vector<std::pair<std::string, std::string>> flags_;
  std::shared_ptr<const ServerConfig> cfg_;
  std::shared_ptr<const TokenStore> tokens_;
  std::shared_ptr<const QueryOptions> media_opts_, hash_opts_;  // defaults (atomic access)
  bool loopback_only_ = false;

  std::unique_ptr<monitoring::Metrics> metrics_;
  std::shared_ptr<monitoring::GpuCollector> gpus_;
  std::unique_ptr<monitoring::MetricsExporter> exporter_;
  std::unique_ptr<ListsState> lists_;
  std::unique_ptr<ListAdmin> admin_;
  std::unique_ptr<MediaPipeline> media_;
  std::unique_ptr<MatchPipeline> matcher_;
  std::unique_ptr<triage::SeenMemory> seen_;  // seen-before memory (triage.memory); null: off
  std::unique_ptr<httplib::Server> http_;

  std::string host_;
  int port_ = 0, metrics_port_ = 0;
  std::atomic<int> listen_fd_{-1};
  std::thread http_thread_;
  std::mutex http_mu_;
  std::condition_variable http_cv_;
  bool http_done_ = false;

  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> request_seq_{0};
  std::atomic<int> in_flight_{0};
  std::mutex reload_mu_;

  std::thread poller_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stop_poll_ = false;
};

}  // namespace hashmatch::server
