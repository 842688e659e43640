#include "host/scan/scanner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/media/media_file.h"
#include "host/scan/checkpoint.h"
#include "host/scan/output.h"

namespace hashmatch::scan {
namespace {

using Clock = std::chrono::steady_clock;

std::string dump_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string absolute(const std::string& p) {
  if (p.empty() || p == "-") return "-";
  std::error_code ec;
  const auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

// The working directory, when some item is a relative path (it is then part of the items'
// meaning, and of the checkpoint's identity); "" when every item is absolute.
std::string cwd_if_relative(const ItemList& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string_view p = items.path(i);
    if (!p.empty() && p.front() != '/') {
      std::error_code ec;
      const auto cwd = std::filesystem::current_path(ec);
      if (ec) throw IoError("cannot read the working directory: " + ec.message());
      return cwd.string();
    }
  }
  return {};
}

void set_error(MediaHashResult* r, std::string reason, std::string message) {
  r->error = std::move(message);
  r->error_reason = std::move(reason);
}

// The first bytes of a file (for format detection before deciding who decodes it).
MediaFormat peek_format(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return MediaFormat::kUnknown;
  uint8_t head[64];
  ssize_t n;
  do {
    n = ::pread(fd, head, sizeof head, 0);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return n == 0 ? MediaFormat::kEmpty : MediaFormat::kUnknown;
  return sniff_format({head, static_cast<std::size_t>(n)});
}

enum class SlotState : uint8_t { kFree, kBusy, kReady };

class Pipeline {
 public:
  Pipeline(const ScanOptions& opts, const ItemList& items, ScanMatcher* matcher,
           BatchPdqStage* stage)
      : opts_(opts), items_(items), matcher_(matcher), stage_(stage) {
    jobs_ = opts.jobs > 0 ? opts.jobs : default_jobs();
    window_ = opts.window ? opts.window : std::max<std::size_t>(1024, std::size_t(jobs_) * 64);
    ring_.resize(window_);
    states_.assign(window_, SlotState::kFree);
  }

  // Runs items [begin, end); `emit` is called on this thread for each, in order. `emit` returns
  // nothing; it may throw (an output failure ends the scan after the threads are stopped).
  template <typename Emit>
  void run(std::size_t begin, std::size_t end, Emit&& emit, const std::function<void()>& idle) {
    next_ = base_ = begin;
    end_ = end;
    workers_alive_ = jobs_;
    std::vector<std::thread> threads;
    for (int t = 0; t < jobs_; ++t) threads.emplace_back([this] { worker(); });
    std::thread batch_thread, match_thread;
    batch_alive_ = stage_ != nullptr;
    if (stage_) batch_thread = std::thread([this] { batch_loop(); });
    match_thread = std::thread([this] { match_loop(); });
    std::exception_ptr failure;
    try {
      for (;;) {
        ScanItem* it = nullptr;
        {
          std::unique_lock<std::mutex> lk(mu_);
          const bool ready = cv_emit_.wait_for(lk, std::chrono::milliseconds(200), [&] {
            return (base_ < next_ && states_[base_ % window_] == SlotState::kReady) ||
                   (closed_ && base_ == next_);
          });
          if (!ready) {
            lk.unlock();
            idle();
            continue;
          }
          if (base_ == next_) break;  // closed and everything dispatched was emitted
          it = &ring_[base_ % window_];
        }
        emit(*it);
        {
          std::lock_guard<std::mutex> lk(mu_);
          states_[base_ % window_] = SlotState::kFree;
          ++base_;
        }
        cv_room_.notify_all();
      }
    } catch (...) {
      failure = std::current_exception();
      std::lock_guard<std::mutex> lk(mu_);
      abort_ = true;
      closed_ = true;
    }
    if (failure) {
      cv_room_.notify_all();
      cv_batch_.notify_all();
      cv_match_.notify_all();
      cv_emit_.notify_all();
    }
    for (auto& t : threads) t.join();
    if (batch_thread.joinable()) batch_thread.join();
    match_thread.join();
    if (failure) std::rethrow_exception(failure);
  }

  std::size_t dispatched() const { return next_; }
  bool stage_disabled() const { return stage_disabled_.load(); }

 private:
  // The next index for a worker, or nullopt when there is none (end, stop, abort).
  std::optional<std::size_t> take() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      if (abort_ || next_ >= end_ || (opts_.stop && opts_.stop->load())) {
        closed_ = true;
        cv_emit_.notify_all();
        return std::nullopt;
      }
      if (next_ < base_ + window_) break;
      cv_room_.wait_for(lk, std::chrono::milliseconds(100));
    }
    const std::size_t i = next_++;
    states_[i % window_] = SlotState::kBusy;
    return i;
  }

  void worker() {
    pdq::PdqHasher hasher(opts_.hash.pdq_prescale);
    while (auto idx = take()) {
      ScanItem& it = ring_[*idx % window_];
      it = ScanItem();
      it.index = *idx;
      try {
        process(it, hasher);
      } catch (const std::bad_alloc&) {
        it.pending_pdq = false;
        set_error(&it.result, "out_of_memory", "out of memory");
      } catch (const std::exception& e) {
        it.pending_pdq = false;
        set_error(&it.result, "internal", e.what());
      }
      if (it.pending_pdq) {
        push_batch(&it);
      } else {
        push_match(&it);
      }
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      --workers_alive_;
    }
    cv_batch_.notify_all();
    cv_match_.notify_all();
  }

  void process(ScanItem& it, pdq::PdqHasher& hasher) {
    const std::string path(items_.path(it.index));
    MediaHashResult& r = it.result;
    r.path = path;
    if (const std::string_view err = items_.error(it.index); !err.empty()) {
      set_error(&r, "io", std::string(err));
      return;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      set_error(&r, "io", errno == ENOENT ? "no such file (removed since the scan started?)"
                                          : std::string("cannot stat: ") + std::strerror(errno));
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      set_error(&r, "io", "not a regular file");
      return;
    }
    const bool use_stage = stage_ && !stage_disabled_.load(std::memory_order_relaxed);
    if (!use_stage || !is_image_format(peek_format(path))) {
      r = hash_media_file(path, opts_.hash, hasher);
      return;
    }
    MediaFile mf;
    try {
      mf = read_media_file(path, opts_.hash.limits);
    } catch (const std::exception& e) {
      set_error(&r, "io", e.what());
      return;
    }
    r.size = mf.size;
    r.digests = mf.digests;
    r.have_digests = true;
    r.format = mf.format;
    if (mf.too_large) {
      set_error(&r, "too_large", "file of " + std::to_string(mf.size) +
                                     " bytes exceeds the media limit of " +
                                     std::to_string(opts_.hash.limits.max_file_bytes) +
                                     " bytes (exact hashes computed, PDQ not)");
      return;
    }
    if (!is_image_format(mf.format)) {  // changed since the peek
      hash_image_bytes(mf.bytes, opts_.hash, hasher, &r);
      return;
    }
    if (stage_->decodes(mf.format)) {
      it.bytes = std::move(mf.bytes);
      it.pending_pdq = true;
      return;
    }
    try {
      it.image = decode_image(mf.bytes, opts_.hash.limits);
      r.width = it.image.width;
      r.height = it.image.height;
      it.pending_pdq = true;
    } catch (const MediaError& e) {
      set_error(&r, e.reason(), e.what());
    }
  }

  static uint64_t pending_cost(const ScanItem* it) {
    return it->image.pixel_count() + it->bytes.size() / 4 + 1;
  }

  void push_batch(ScanItem* it) {
    const uint64_t cost = pending_cost(it);
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_room_.wait(lk, [&] {
        return abort_ || batch_q_.empty() || pending_pixels_ + cost <= opts_.max_pending_pixels;
      });
      pending_pixels_ += cost;
      batch_q_.push_back(it);
    }
    cv_batch_.notify_one();
  }

  void push_match(ScanItem* it) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      match_q_.push_back(it);
    }
    cv_match_.notify_one();
  }

  // Takes up to `max` items from `q`: waits for the first, then up to 2 ms for a fuller batch.
  std::vector<ScanItem*> take_batch(std::deque<ScanItem*>& q, std::condition_variable& cv,
                                    std::size_t max, const std::function<bool()>& producers_done) {
    std::vector<ScanItem*> out;
    std::unique_lock<std::mutex> lk(mu_);
    cv.wait(lk, [&] { return !q.empty() || producers_done(); });
    if (q.empty()) return out;
    const auto deadline = Clock::now() + std::chrono::milliseconds(2);
    while (q.size() < max && !producers_done() &&
           cv.wait_until(lk, deadline) != std::cv_status::timeout) {
    }
    while (!q.empty() && out.size() < max) {
      out.push_back(q.front());
      q.pop_front();
    }
    return out;
  }

  void batch_loop() {
    pdq::PdqHasher cpu(opts_.hash.pdq_prescale);
    int consecutive_failures = 0;
    for (;;) {
      std::vector<ScanItem*> batch =
          take_batch(batch_q_, cv_batch_, std::max<std::size_t>(1, stage_->batch_size()),
                     [&] { return workers_alive_ == 0 || abort_; });
      if (batch.empty()) break;
      bool ok = false;
      if (!stage_disabled_) {
        try {
          stage_->hash(batch, opts_.hash.dihedral);
          ok = true;
          consecutive_failures = 0;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "hashmatch scan: batch PDQ stage failed on %zu images (%s): hashed "
                               "on the CPU instead\n", batch.size(), e.what());
          if (++consecutive_failures >= 3) {
            stage_disabled_ = true;
            std::fprintf(stderr, "hashmatch scan: batch PDQ stage switched off after %d failures "
                                 "in a row; the CPU hashes from now on\n", consecutive_failures);
          }
        }
      }
      if (!ok) {
        for (ScanItem* it : batch) cpu_fallback(*it, cpu);
      }
      uint64_t freed = 0;
      for (ScanItem* it : batch) {
        freed += pending_cost(it);
        it->pending_pdq = false;
        it->image = Image();
        it->bytes.clear();
        it->bytes.shrink_to_fit();
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        pending_pixels_ -= freed;
        for (ScanItem* it : batch) match_q_.push_back(it);
      }
      cv_room_.notify_all();
      cv_match_.notify_one();
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      batch_alive_ = false;
    }
    cv_match_.notify_all();
  }

  void cpu_fallback(ScanItem& it, pdq::PdqHasher& cpu) {
    MediaHashResult& r = it.result;
    try {
      if (!it.bytes.empty()) {
        hash_image_bytes(it.bytes, opts_.hash, cpu, &r);
        return;
      }
      if (opts_.hash.dihedral) {
        r.pdq = cpu.hash_dihedral(it.image);
      } else {
        const pdq::PdqHash h = cpu.hash(it.image);
        pdq::PdqDihedral d;
        d.hashes[0] = h.hash;
        d.quality = h.quality;
        r.pdq = d;
      }
    } catch (const std::exception& e) {
      set_error(&r, "internal", e.what());
    }
  }

  void match_loop() {
    const std::size_t max = matcher_ ? std::max<std::size_t>(1, matcher_->batch_size()) : 4096;
    for (;;) {
      std::vector<ScanItem*> batch = take_batch(match_q_, cv_match_, max, [&] {
        return (workers_alive_ == 0 && !batch_alive_) || abort_;
      });
      if (batch.empty()) break;
      if (matcher_) {
        try {
          matcher_->match(batch, opts_.hash.dihedral);
        } catch (const std::exception& e) {
          for (ScanItem* it : batch) {
            it->matches = nlohmann::json::array();
            it->match_error = e.what();
          }
        }
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        for (ScanItem* it : batch) states_[it->index % window_] = SlotState::kReady;
      }
      cv_emit_.notify_all();
    }
  }

  const ScanOptions& opts_;
  const ItemList& items_;
  ScanMatcher* matcher_;
  BatchPdqStage* stage_;
  int jobs_ = 1;
  std::size_t window_ = 1024;
  std::vector<ScanItem> ring_;
  std::vector<SlotState> states_;

  std::mutex mu_;
  std::condition_variable cv_room_, cv_batch_, cv_match_, cv_emit_;
  std::size_t next_ = 0, base_ = 0, end_ = 0;
  bool closed_ = false, abort_ = false;
  int workers_alive_ = 0;
  bool batch_alive_ = false;
  uint64_t pending_pixels_ = 0;
  std::deque<ScanItem*> batch_q_, match_q_;
  std::atomic<bool> stage_disabled_{false};
};

// Lines after the last commit that are complete and belong to the next items in order: kept
// (counted) instead of being hashed again. Returns the number of bytes of `tail` kept.
uint64_t salvage(const std::string& tail, const ItemList& items, uint64_t* done,
                 ScanCounters* counters, uint64_t* salvaged) {
  std::size_t pos = 0;
  while (pos < tail.size() && *done < items.size()) {
    const std::size_t nl = tail.find('\n', pos);
    if (nl == std::string::npos) break;
    nlohmann::json j = nlohmann::json::parse(tail.begin() + pos, tail.begin() + nl, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("path")) break;
    const std::string want = dump_line(nlohmann::json(std::string(items.path(*done))));
    if (dump_line(j["path"]) != want) break;
    counters->add(j);
    ++*done;
    ++*salvaged;
    pos = nl + 1;
  }
  return pos;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    OutputFile f(tmp, 0);
    f.write(text);
    f.sync();
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    throw IoError("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  }
}

}  // namespace

nlohmann::json result_line(const ScanItem& item, bool dihedral) {
  nlohmann::json j = to_json(item.result, dihedral, /*with_frames=*/false);
  if (!item.matches.is_null()) j["matches"] = item.matches;
  if (!item.match_error.empty()) j["match_error"] = item.match_error;
  return j;
}

nlohmann::json checkpoint_config(const ScanOptions& opts) {
  nlohmann::json paths = nlohmann::json::array(), manifests = nlohmann::json::array();
  for (const std::string& p : opts.paths) paths.push_back(absolute(p));
  for (const std::string& m : opts.manifests) manifests.push_back(m == "-" ? "-" : absolute(m));
  return nlohmann::json{{"paths", paths},
                        {"manifests", manifests},
                        {"shard", opts.shard.to_string()},
                        {"output", absolute(opts.output)},
                        {"dihedral", opts.hash.dihedral},
                        {"pdq_prescale", opts.hash.pdq_prescale},
                        {"max_file_bytes", opts.hash.limits.max_file_bytes},
                        {"max_pixels", opts.hash.limits.max_pixels},
                        {"result", opts.result_config}};
}

nlohmann::json ScanReport::to_json(const ScanOptions& opts) const {
  nlohmann::json s = counters.to_json();
  s["items"] = items;
  s["done"] = done;
  s["complete"] = complete;
  s["interrupted"] = interrupted;
  s["resumed"] = resumed;
  if (resumed) {
    s["resumed_from"] = resumed_from;
    s["salvaged"] = salvaged;
  }
  s["shard"] = opts.shard.to_string();
  s["output"] = opts.output.empty() ? "-" : opts.output;
  if (!opts.checkpoint.empty()) s["checkpoint"] = opts.checkpoint;
  const double secs = session_seconds > 0 ? session_seconds : 1e-9;
  s["session"] = {{"files", session_files},
                  {"bytes", session_bytes},
                  {"seconds", session_seconds},
                  {"files_per_s", double(session_files) / secs},
                  {"mb_per_s", double(session_bytes) / 1e6 / secs}};
  s["elapsed_seconds"] = elapsed_seconds;
  s["files_per_s"] = double(session_files) / secs;
  s["mb_per_s"] = double(session_bytes) / 1e6 / secs;
  s["jobs"] = opts.jobs > 0 ? opts.jobs : default_jobs();
  s["pdq_backend"] = opts.pdq_backend;
  if (!pdq_stage.empty()) s["pdq_stage"] = pdq_stage;
  if (stage_disabled) s["pdq_stage_disabled"] = true;
  if (!matcher.is_null()) s["matcher"] = matcher;
  if (walk.inputs || walk.files) {
    s["walk"] = {{"inputs", walk.inputs},   {"directories", walk.directories},
                 {"files", walk.files},     {"skipped_special", walk.skipped_special},
                 {"errors", walk.errors},   {"in_shard", walk.kept}};
  }
  return nlohmann::json{{"summary", s}};
}

ScanReport run_scan(const ScanOptions& opts, ScanMatcher* matcher, BatchPdqStage* stage) {
  const auto t0 = Clock::now();
  ScanReport rep;
  nlohmann::json config = checkpoint_config(opts);
  if (!opts.checkpoint.empty() && (opts.output.empty() || opts.output == "-")) {
    throw InvalidArgument("--checkpoint needs --output FILE (standard output cannot be resumed)");
  }
  if (!opts.checkpoint.empty()) {
    struct stat st {};
    if (::stat(opts.output.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      throw InvalidArgument("--checkpoint needs --output to be a regular file ('" + opts.output +
                            "' is a pipe or device: it cannot be resumed)");
    }
    std::error_code ec;
    if (absolute(opts.checkpoint) == absolute(opts.output) ||
        std::filesystem::equivalent(opts.checkpoint, opts.output, ec)) {
      throw InvalidArgument("--output and --checkpoint name the same file '" + opts.output +
                            "': they must be two files");
    }
  }
  ItemList items;
  std::unique_ptr<Checkpoint> ckpt;
  std::optional<CheckpointCommit> last;
  if (!opts.checkpoint.empty() && file_exists(opts.checkpoint)) {
    nlohmann::json old;
    ckpt = Checkpoint::open(opts.checkpoint, &old, &items, &last);
    // Relative items (manifest lines, paths under a relative directory) are read relative to the
    // working directory: resumed from another one, every remaining file would be "missing".
    if (const std::string cwd = cwd_if_relative(items); !cwd.empty()) config["cwd"] = cwd;
    if (old != config) {
      // The keys that differ, one level down into objects ("result.vpdq_size").
      std::string diff;
      for (auto it = config.begin(); it != config.end(); ++it) {
        if (old.contains(it.key()) && old[it.key()] == it.value()) continue;
        const nlohmann::json* was = old.contains(it.key()) ? &old[it.key()] : nullptr;
        if (it.value().is_object() && was && was->is_object()) {
          for (auto sub = it.value().begin(); sub != it.value().end(); ++sub) {
            if (!was->contains(sub.key()) || (*was)[sub.key()] != sub.value()) {
              diff += (diff.empty() ? "" : ", ") + it.key() + "." + sub.key();
            }
          }
          for (auto sub = was->begin(); sub != was->end(); ++sub) {
            if (!it.value().contains(sub.key())) diff += (diff.empty() ? "" : ", ") + it.key() + "." + sub.key();
          }
        } else {
          diff += (diff.empty() ? "" : ", ") + it.key();
        }
      }
      std::string where;
      if (config.contains("cwd") && old.value("cwd", "") != config["cwd"]) {
        where = old.contains("cwd")
                    ? "; its items are relative paths: resume from " + old["cwd"].get<std::string>()
                    : "; its items are relative paths and it does not record the directory they "
                      "are relative to";
      }
      // A fatal error (exit code 1, as an unusable checkpoint), not a usage error.
      throw Error("checkpoint '" + opts.checkpoint +
                  "' belongs to another scan (differs in: " + diff + where +
                  "); resume with the same inputs and options, or remove it to start anew");
    }
    rep.resumed = true;
  } else {
    items = build_items(opts.paths, opts.manifests, opts.shard, &rep.walk);
    if (!opts.checkpoint.empty()) {
      if (const std::string cwd = cwd_if_relative(items); !cwd.empty()) config["cwd"] = cwd;
      ckpt = Checkpoint::create(opts.checkpoint, config, items);
    }
  }
  rep.items = items.size();
  uint64_t done = last ? last->done : 0;
  uint64_t offset = last ? last->offset : 0;
  const double elapsed_before = last ? last->elapsed : 0;
  rep.counters = last ? ScanCounters::from_json(last->summary) : ScanCounters();
  // A scan every item of which was already written: nothing is scanned and the output is not
  // reopened (its finishing step may have rewritten it; it is never truncated back).
  const bool complete_before = rep.resumed && last && last->done == items.size();
  const bool finished_before = complete_before && last->summary.is_object() &&
                               last->summary.contains("finish");
  if (rep.resumed && !complete_before) {
    const std::string tail = OutputFile::read_from(opts.output, offset);
    offset += salvage(tail, items, &done, &rep.counters, &rep.salvaged);
  }
  if (complete_before) {
    // Nothing is written, but what the checkpoint vouches for must still be there.
    struct stat st {};
    if (::stat(opts.output.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<uint64_t>(st.st_size) < offset) {
      throw Error("output '" + opts.output + "' has " + std::to_string(st.st_size) +
                  " bytes but the complete scan's checkpoint records " + std::to_string(offset) +
                  ": it was changed or replaced since; start a new scan (remove the checkpoint)");
    }
  }
  if (rep.resumed && !file_exists(opts.output) && offset > 0) {
    throw Error("output '" + opts.output + "' is gone but the checkpoint records " +
                std::to_string(offset) + " bytes of it; start a new scan");
  }
  rep.resumed_from = done;
  if (opts.progress != ProgressMode::kOff) {
    std::fprintf(stderr, "scan: %zu items%s%s\n", items.size(),
                 rep.resumed ? (", resuming at item " + std::to_string(done)).c_str() : "",
                 opts.shard.all() ? "" : (" in shard " + opts.shard.to_string()).c_str());
  }
  std::unique_ptr<OutputFile> out;
  if (!complete_before) out = std::make_unique<OutputFile>(opts.output, offset);
  Progress progress(opts.progress, opts.progress_interval);
  ProgressSnapshot snap;
  snap.total = items.size();
  auto make_snap = [&](uint64_t d) {
    snap.done = d;
    snap.session_files = rep.session_files;
    snap.session_bytes = rep.session_bytes;
    snap.matched = rep.counters.matched;
    snap.failed = rep.counters.failed;
    return snap;
  };
  const auto session_start = Clock::now();
  auto elapsed_now = [&] {
    return elapsed_before + std::chrono::duration<double>(Clock::now() - session_start).count();
  };
  auto commit = [&](uint64_t d) {
    if (!ckpt) {
      out->flush();
      return;
    }
    out->sync();
    ckpt->commit({d, out->offset(), elapsed_now(), rep.counters.to_json()});
  };
  if (rep.salvaged > 0 || (ckpt && !last)) commit(done);
  auto last_commit = Clock::now();

  Pipeline pipe(opts, items, matcher, stage);
  if (stage) rep.pdq_stage = stage->describe();
  if (matcher) rep.matcher = matcher->describe();
  uint64_t emitted = done;
  const double interval = opts.checkpoint_interval > 0 ? opts.checkpoint_interval : 1.0;
  auto maybe_commit = [&] {
    if (std::chrono::duration<double>(Clock::now() - last_commit).count() >= interval) {
      commit(emitted);
      last_commit = Clock::now();
    }
  };
  if (out) {
    pipe.run(
        done, items.size(),
        [&](ScanItem& it) {
          const nlohmann::json j = result_line(it, opts.hash.dihedral);
          const auto& frames = it.result.vpdq;
          std::string line;
          write_json_line(j, frames ? &*frames : nullptr, &line);
          line += '\n';
          out->write(line);
          rep.counters.add(j, frames.has_value());
          ++emitted;
          ++rep.session_files;
          rep.session_bytes += it.result.size;
          maybe_commit();
          progress.update(make_snap(emitted));
        },
        [&] {
          maybe_commit();
          progress.update(make_snap(emitted));
        });
    commit(emitted);
  }
  rep.done = emitted;
  rep.complete = emitted == items.size();
  rep.interrupted = !rep.complete;
  rep.stage_disabled = pipe.stage_disabled();
  progress.finish(make_snap(emitted));
  if (opts.finish && !rep.complete) {
    rep.finish_pending = true;
  } else if (opts.finish && finished_before) {
    rep.finish = last->summary["finish"];
    rep.finish_recorded = true;
  } else if (opts.finish && opts.output != "-" && !opts.output.empty()) {
    if (out) out->sync();
    out.reset();  // closed before the finishing step replaces the file
    rep.finish = opts.finish(opts.output);
    if (ckpt) {
      nlohmann::json s = rep.counters.to_json();
      s["finish"] = rep.finish;
      std::error_code ec;
      const auto size = std::filesystem::file_size(opts.output, ec);
      if (ec) throw IoError("cannot stat output '" + opts.output + "': " + ec.message());
      ckpt->commit({emitted, static_cast<uint64_t>(size), elapsed_now(), s});
    }
  }
  rep.session_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  rep.elapsed_seconds = elapsed_before + std::chrono::duration<double>(Clock::now() - session_start).count();
  rep.checkpoint_commits = ckpt ? ckpt->commits() : 0;
  return rep;
}

void write_summary_file(const std::string& path, const nlohmann::json& summary) {
  write_file_atomically(path, summary.dump(2) + "\n");
}

}  // namespace hashmatch::scan
