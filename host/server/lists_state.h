// The server's view of the hash lists: the ListMatcher (host/lists) built in the background at
// start-up (readiness stays false until it is), reloaded on SIGHUP, after every change made through
// the API, and every reload_interval for changes made by other processes. Each reload publishes a
// new immutable snapshot with an atomic swap; requests in flight keep the one they started with.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/lists/list_matcher.h"
#include "monitoring/metrics.h"

namespace hashmatch::video {
class VideoIndex;
}

namespace hashmatch::server {

class ListsState {
 public:
  ListsState(std::string db, ListMatcherOptions opts, monitoring::Metrics& metrics);
  ~ListsState();
  ListsState(const ListsState&) = delete;
  ListsState& operator=(const ListsState&) = delete;

  // Builds the matcher on a background thread.
  void start_loading();
  // Blocks until the first load finished (or failed).
  void wait_loaded();
  bool loaded() const { return loaded_.load(); }
  std::string load_error() const;

  // The current snapshot; null until loaded.
  std::shared_ptr<const ListSnapshot> snapshot() const;
  // The listed videos of the loaded lists (rebuilt with every snapshot that changed); null until
  // loaded. Every distinct frame is indexed, whatever its quality: a request matches with the
  // options of its own configuration (VideoIndex::match with options: match.min_quality, the
  // threshold, the percentages), so a reload of them applies at once and to both sides alike.
  std::shared_ptr<const video::VideoIndex> videos() const;

  // Re-reads the database (cheap when nothing changed). Returns true when a new snapshot was
  // published. Errors are counted, logged and returned in *error (the old snapshot stays).
  bool reload(std::string* error = nullptr);
  // A different selection of lists (SIGHUP): builds a new matcher and swaps it in.
  void set_lists(const std::vector<std::string>& lists, std::string* error = nullptr);

 private:
  void publish_metrics(const ListSnapshot& s);
  void rebuild_videos(const std::vector<std::string>& lists);
  std::string db_;
  ListMatcherOptions opts_;
  monitoring::Metrics& metrics_;
  std::atomic<bool> loaded_{false};
  std::atomic<bool> loading_{false};
  mutable std::mutex mu_;  // guards matcher_ (the pointer), load_error_, opts_
  std::condition_variable loaded_cv_;  // the first load ended (loading_ false, under mu_)
  std::shared_ptr<ListMatcher> matcher_;
  std::shared_ptr<const video::VideoIndex> videos_;
  std::string load_error_;
  std::mutex reload_mu_;  // one reload at a time
  std::thread loader_;
};

}  // namespace hashmatch::server
