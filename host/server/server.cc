#include "host/server/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "host/common/error.h"
#include "host/lists/list_matcher.h"
#include "host/server/list_admin.h"
#include "host/server/lists_state.h"
#include "host/server/match_pipeline.h"
#include "host/server/media_pipeline.h"
#include "host/triage/seen_store.h"
#include "host/version.h"
#include "kernels/rt/device.h"
#include "monitoring/exporter.h"
#include "monitoring/gpu_collector.h"
#include "monitoring/metrics.h"

namespace hashmatch::server {
namespace {

std::mutex g_log_mu;

std::shared_ptr<const QueryOptions> default_options(const ServerConfig& cfg, bool media) {
  auto o = std::make_shared<QueryOptions>();
  o->threshold = cfg.threshold;
  o->dihedral = media && cfg.dihedral;
  return o;
}

std::shared_ptr<const TokenStore> load_tokens(const ServerConfig& cfg) {
  return cfg.tokens.empty() ? TokenStore::open_access() : TokenStore::load(cfg.tokens);
}

}  // namespace

void Server::log(const std::string& line) {
  std::lock_guard<std::mutex> lk(g_log_mu);
  std::fprintf(stderr, "hashmatch serve: %s\n", line.c_str());
  std::fflush(stderr);
}

Server::Server(ServerConfig cfg, std::vector<std::pair<std::string, std::string>> flags)
    : flags_(std::move(flags)) {
  auto c = std::make_shared<ServerConfig>(std::move(cfg));
  const HostPort hp = parse_host_port(c->listen);
  host_ = hp.host;
  port_ = hp.port;
  if (c->tokens.empty() && !is_loopback_host(host_)) {
    log("no token file (--tokens): serving on loopback only, 127.0.0.1:" + std::to_string(port_) +
        " instead of " + c->listen);
    host_ = "127.0.0.1";
    loopback_only_ = true;
  } else if (c->tokens.empty()) {
    log("no token file (--tokens): serving on loopback only, without authentication");
    loopback_only_ = true;
  }
  tokens_ = load_tokens(*c);
  metrics_ = std::make_unique<monitoring::Metrics>();
  ListMatcherOptions lo;
  lo.matcher.backend = parse_backend(c->match_backend);
  lo.lists = c->lists;
  lists_ = std::make_unique<ListsState>(c->db, lo, *metrics_);
  admin_ = std::make_unique<ListAdmin>(c->db, c->audit_log_path(), *lists_, *metrics_);
  media_ = std::make_unique<MediaPipeline>(*c, *metrics_);
  matcher_ = std::make_unique<MatchPipeline>(*c, *metrics_, *lists_);
  media_opts_ = default_options(*c, true);
  hash_opts_ = default_options(*c, false);
  if (!c->triage_memory.empty()) {
    seen_ = std::make_unique<triage::SeenMemory>(c->triage_memory, c->triage_threshold,
                                                 c->triage_memory_read_only);
    log("seen-before memory " + c->triage_memory + " (" + std::to_string(seen_->clusters()) +
        " clusters, " + (c->triage_memory_read_only ? "read-only" : "recording arrivals") + ")");
  }
  monitoring::BuildInfo bi;
  bi.version = kVersion;
  bi.cuda = cuda_compiled() ? cuda_runtime_version() : "none";
  bi.cuda_architectures = cuda_compiled() ? kCudaArchitectures : "";
  bi.pdq_backend = media_->backend();
  metrics_->set_build_info(bi);
  log("PDQ backend " + media_->why());
  cfg_ = std::move(c);
}

Server::~Server() {
  {
    std::lock_guard<std::mutex> lk(poll_mu_);
    stop_poll_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  const int fd = listen_fd_.exchange(-1);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  if (http_thread_.joinable()) http_thread_.join();
  if (media_) media_->shutdown();
  if (matcher_) matcher_->shutdown();
  exporter_.reset();
}

std::string Server::api_address() const {
  const auto c = config();
  const bool v6 = host_.find(':') != std::string::npos;
  return std::string(c->tls() ? "https://" : "http://") + (v6 ? "[" + host_ + "]" : host_) + ":" +
         std::to_string(port_);
}

bool Server::ready() const { return lists_->loaded() && !draining_.load() && media_->healthy(); }

void Server::wait_lists_loaded() { lists_->wait_loaded(); }

void Server::start() {
  const auto c = config();
  if (c->tls()) {
    auto s = std::make_unique<httplib::SSLServer>(c->tls_cert.c_str(), c->tls_key.c_str());
    if (!s->is_valid()) {
      throw IoError("cannot load the TLS certificate " + c->tls_cert + " and key " + c->tls_key);
    }
    http_ = std::move(s);
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  auto& h = *http_;
  const int threads = c->http_threads;
  h.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  h.set_payload_max_length(static_cast<size_t>(c->max_body_bytes));
  auto secs = [](Seconds d) { return std::chrono::duration_cast<std::chrono::microseconds>(d); };
  h.set_read_timeout(secs(c->read_timeout));
  h.set_write_timeout(secs(c->write_timeout));
  h.set_keep_alive_timeout(static_cast<time_t>(std::max(1.0, c->keep_alive_timeout.count())));
  h.set_keep_alive_max_count(static_cast<size_t>(c->keep_alive_max_requests));
  // The listening socket's descriptor is kept so that drain() can stop accepting (shutdown(2)
  // wakes the accept loop, which then closes it) while connections already accepted finish.
  h.set_socket_options([this](int fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_.store(fd);
  });
  install_routes();
  if (port_ == 0) {
    const int p = h.bind_to_any_port(host_);
    if (p < 0) throw IoError("cannot listen on " + host_ + ":0");
    port_ = p;
  } else if (!h.bind_to_port(host_, port_)) {
    throw IoError("cannot listen on " + host_ + ":" + std::to_string(port_) +
                  " (address in use, or not an address of this machine?)");
  }
  // cpp-httplib 0.11 listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into the
  // Debian library) and has no setting for it: a burst of more connections than that, arriving
  // faster than its single accepting thread takes them, met resets. Calling listen(2) again on
  // the listening socket sets the new backlog (Linux).
  if (::listen(listen_fd_.load(), c->listen_backlog) != 0) {
    throw IoError("cannot set the listen backlog of " + host_ + ":" + std::to_string(port_) +
                  " to " + std::to_string(c->listen_backlog) + ": " + std::strerror(errno));
  }
  if (!c->metrics_listen.empty() && c->metrics_listen != "off") {
    gpus_ = std::make_shared<monitoring::GpuCollector>();
    if (!gpus_->available()) log("no GPU metrics: " + gpus_->why());
    exporter_ = std::make_unique<monitoring::MetricsExporter>(c->metrics_listen, *metrics_, gpus_);
    metrics_port_ = exporter_->port();
  }
  http_thread_ = std::thread([this] {
    try {
      http_->listen_after_bind();
    } catch (const std::exception& e) {
      log(std::string("HTTP server stopped: ") + e.what());
    }
    {
      std::lock_guard<std::mutex> lk(http_mu_);
      http_done_ = true;
    }
    http_cv_.notify_all();
  });
  log("listening on " + api_address() + (c->tls() ? " (TLS)" : ""));
  if (exporter_) {
    const HostPort mp = parse_host_port(c->metrics_listen);
    log("metrics on http://" + mp.host + ":" + std::to_string(metrics_port_) + "/metrics");
  }
  lists_->start_loading();
  poller_ = std::thread([this] { poll_lists(); });
}

void Server::poll_lists() {
  lists_->wait_loaded();
  if (lists_->loaded()) {
    const auto snap = lists_->snapshot();
    log("ready: " + std::to_string(snap->lists().size()) + " lists, " +
        std::to_string(snap->entries()) + " entries");
  } else {
    log("not ready: the lists could not be loaded (" + lists_->load_error() +
        "); retrying every reload_interval and on SIGHUP");
  }
  metrics_->set_ready(ready());
  for (;;) {
    const auto c = config();
    const double interval = c->reload_interval.count();
    {
      std::unique_lock<std::mutex> lk(poll_mu_);
      if (interval <= 0) {
        poll_cv_.wait(lk, [&] { return stop_poll_; });
      } else {
        poll_cv_.wait_for(lk, std::chrono::duration<double>(interval), [&] { return stop_poll_; });
      }
      if (stop_poll_) return;
    }
    if (lists_->reload()) log("lists reloaded (changed in the database)");
    metrics_->set_ready(ready());
  }
}

void Server::apply_config(std::shared_ptr<const ServerConfig> cfg) {
  media_->reconfigure(*cfg);
  matcher_->reconfigure(*cfg);
  std::atomic_store(&media_opts_, default_options(*cfg, true));
  std::atomic_store(&hash_opts_, default_options(*cfg, false));
  std::atomic_store(&cfg_, std::move(cfg));
}

bool Server::reload() {
  std::lock_guard<std::mutex> lk(reload_mu_);
  const auto old = config();
  ServerConfig fresh;
  try {
    fresh = load_config(old->config_file, flags_, hashmatch_environment());
  } catch (const std::exception& e) {
    log(std::string("reload: configuration rejected, keeping the running one: ") + e.what());
    return false;
  }
  std::vector<std::string> restart;
  auto merged = std::make_shared<ServerConfig>(merge_reloadable(*old, fresh, &restart));
  for (const std::string& k : restart) {
    log("reload: " + k + " changed; it takes effect after a restart (keeping the running value)");
  }
  std::shared_ptr<const TokenStore> tokens;
  if (merged->tokens.empty() && !loopback_only_) {
    log("reload: the token file was removed from the configuration but the server listens "
        "beyond loopback; keeping the current tokens");
    merged->tokens = old->tokens;
  }
  try {
    tokens = load_tokens(*merged);
  } catch (const std::exception& e) {
    log(std::string("reload: token file rejected, keeping the running configuration: ") + e.what());
    return false;
  }
  std::atomic_store(&tokens_, tokens);
  if (merged->lists != old->lists) {
    std::string err;
    lists_->set_lists(merged->lists, &err);
    if (!err.empty()) {
      log("reload: cannot load the lists " + err + "; keeping the current selection");
      merged->lists = old->lists;
    }
  }
  apply_config(merged);
  std::string err;
  const bool changed = lists_->reload(&err);
  metrics_->set_ready(ready());
  log(std::string("reloaded configuration") + (tokens->enabled() ? " and tokens" : "") +
      (changed ? "; lists changed" : "; lists unchanged") + (err.empty() ? "" : "; " + err));
  return true;
}

bool Server::drain() {
  const auto c = config();
  draining_.store(true);
  metrics_->set_ready(false);
  // Stop accepting first (connections already accepted are served to the end), then say so.
  const int fd = listen_fd_.exchange(-1);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  log("draining: readiness false, no new connections; finishing " +
      std::to_string(in_flight_.load()) + " requests in flight (grace " +
      format_duration(c->shutdown_grace) + ")");
  {
    std::lock_guard<std::mutex> lk(poll_mu_);
    stop_poll_ = true;
  }
  poll_cv_.notify_all();
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(c->shutdown_grace);
  {
    std::unique_lock<std::mutex> lk(http_mu_);
    if (!http_cv_.wait_until(lk, deadline, [&] { return http_done_; })) {
      log("grace period over with " + std::to_string(in_flight_.load()) +
          " requests still in flight");
      return false;
    }
  }
  if (http_thread_.joinable()) http_thread_.join();
  if (poller_.joinable()) poller_.join();
  media_->shutdown();
  matcher_->shutdown();
  // The metrics endpoint stays up to the end (the process exits right after).
  log("drained; exiting");
  return true;
}

}  // namespace hashmatch::server
