#include "host/server/lists_state.h"

#include <cstdio>
#include <exception>
#include <map>

#include "video/vpdq_store.h"

namespace hashmatch::server {

ListsState::ListsState(std::string db, ListMatcherOptions opts, monitoring::Metrics& metrics)
    : db_(std::move(db)), opts_(std::move(opts)), metrics_(metrics) {}

std::shared_ptr<const video::VideoIndex> ListsState::videos() const {
  std::lock_guard<std::mutex> lk(mu_);
  return videos_;
}

void ListsState::rebuild_videos(const std::vector<std::string>& lists) {
  try {
    ListStore store(db_, /*create=*/false);
    video::VpdqStore vs(store);
    video::VideoMatchOptions every_frame;  // requests choose their own quality threshold
    every_frame.quality_threshold = 0;
    auto idx = std::make_shared<const video::VideoIndex>(vs, lists, every_frame, opts_.matcher);
    std::lock_guard<std::mutex> lk(mu_);
    videos_ = std::move(idx);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "hashmatch serve: indexing the listed videos failed (keeping the previous "
                 "index): %s\n",
                 e.what());
  }
}

ListsState::~ListsState() {
  if (loader_.joinable()) loader_.join();
}

void ListsState::start_loading() {
  loading_.store(true);
  loader_ = std::thread([this] {
    try {
      auto m = std::make_shared<ListMatcher>(db_, opts_);
      publish_metrics(*m->snapshot());
      rebuild_videos(opts_.lists);
      {
        std::lock_guard<std::mutex> lk(mu_);
        matcher_ = std::move(m);
      }
      metrics_.add_list_reload("ok");
      loaded_.store(true);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(mu_);
      load_error_ = e.what();
      metrics_.add_list_reload("error");
      std::fprintf(stderr, "hashmatch serve: loading the lists failed: %s\n", e.what());
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      loading_.store(false);
    }
    loaded_cv_.notify_all();
  });
}

void ListsState::wait_loaded() {
  // Waited for, not joined: several threads wait at once (the server's poller, a test).
  std::unique_lock<std::mutex> lk(mu_);
  loaded_cv_.wait(lk, [&] { return !loading_.load(); });
}

std::string ListsState::load_error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return load_error_;
}

std::shared_ptr<const ListSnapshot> ListsState::snapshot() const {
  std::shared_ptr<ListMatcher> m;
  {
    std::lock_guard<std::mutex> lk(mu_);
    m = matcher_;
  }
  return m ? m->snapshot() : nullptr;
}

void ListsState::publish_metrics(const ListSnapshot& s) {
  std::map<std::string, double> sizes;
  for (const SnapshotListInfo& l : s.lists()) sizes[l.info.name] = static_cast<double>(l.entries);
  metrics_.set_list_entries(sizes);
}

bool ListsState::reload(std::string* error) {
  std::lock_guard<std::mutex> rl(reload_mu_);
  std::shared_ptr<ListMatcher> m;
  {
    std::lock_guard<std::mutex> lk(mu_);
    m = matcher_;
  }
  if (!m) {
    // Not loaded yet (or the first load failed): try again from scratch.
    if (loading_.load()) return false;  // the first load is still running
    try {
      auto fresh = std::make_shared<ListMatcher>(db_, opts_);
      publish_metrics(*fresh->snapshot());
      rebuild_videos(opts_.lists);
      {
        std::lock_guard<std::mutex> lk(mu_);
        matcher_ = std::move(fresh);
        load_error_.clear();
      }
      loaded_.store(true);
      metrics_.add_list_reload("ok");
      return true;
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(mu_);
      load_error_ = e.what();
      metrics_.add_list_reload("error");
      if (error) *error = e.what();
      return false;
    }
  }
  try {
    const bool changed = m->reload();
    if (changed) {
      publish_metrics(*m->snapshot());
      rebuild_videos(opts_.lists);
    }
    metrics_.add_list_reload(changed ? "ok" : "unchanged");
    return changed;
  } catch (const std::exception& e) {
    metrics_.add_list_reload("error");
    std::fprintf(stderr,
                 "hashmatch serve: reloading the lists failed (keeping the current "
                 "snapshot): %s\n",
                 e.what());
    if (error) *error = e.what();
    return false;
  }
}

void ListsState::set_lists(const std::vector<std::string>& lists, std::string* error) {
  std::lock_guard<std::mutex> rl(reload_mu_);
  ListMatcherOptions opts;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (opts_.lists == lists) return;
    opts = opts_;
  }
  opts.lists = lists;
  try {
    auto fresh = std::make_shared<ListMatcher>(db_, opts);
    publish_metrics(*fresh->snapshot());
    rebuild_videos(lists);
    std::lock_guard<std::mutex> lk(mu_);
    matcher_ = std::move(fresh);
    opts_ = opts;
    loaded_.store(true);
    metrics_.add_list_reload("ok");
  } catch (const std::exception& e) {
    metrics_.add_list_reload("error");
    if (error) *error = e.what();
  }
}

}  // namespace hashmatch::server
