#include "host/lists/list_matcher.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include "host/common/error.h"
#include "host/common/sqlite_util.h"

namespace hashmatch {
namespace {

// An exact-hash table row: the hash bytes and the entry it belongs to; tables are sorted by key.
template <int N>
struct ExactKey {
  std::array<uint8_t, N> key;
  uint32_t entry;
};

template <int N>
void sort_keys(std::vector<ExactKey<N>>& v) {
  std::sort(v.begin(), v.end(), [](const ExactKey<N>& a, const ExactKey<N>& b) {
    return std::memcmp(a.key.data(), b.key.data(), N) < 0 ||
           (std::memcmp(a.key.data(), b.key.data(), N) == 0 && a.entry < b.entry);
  });
}

template <int N>
void lookup(const std::vector<ExactKey<N>>& v, const uint8_t* key, std::vector<uint32_t>& out) {
  auto lo = std::lower_bound(v.begin(), v.end(), key, [](const ExactKey<N>& a, const uint8_t* k) {
    return std::memcmp(a.key.data(), k, N) < 0;
  });
  for (; lo != v.end() && std::memcmp(lo->key.data(), key, N) == 0; ++lo) out.push_back(lo->entry);
}

}  // namespace

// One list's index. Entry metadata is compact (ids in one character pool, labels interned) so
// that multi-million-entry lists stay small in memory.
struct ListSnapshot::ListIndex {
  static constexpr uint32_t kIdIsHash = UINT32_MAX;  // the id is the hash's hex (not pooled)
  struct Entry {
    uint64_t id_off = 0;
    uint32_t id_len = 0;  // kIdIsHash: generated id
    uint32_t labels = 0;  // index into labels
    int64_t added_at = 0;
  };
  ListInfo info;
  std::string id_pool;
  std::vector<Entry> entries;
  std::vector<Labels> labels;
  std::size_t by_algo[kNumHashAlgos] = {};

  // PDQ: hashes (row order), the entry each belongs to, and the matcher built over them.
  std::vector<Hash256> pdq;
  std::vector<uint32_t> pdq_entry;
  std::unique_ptr<PdqMatcher> matcher;

  std::vector<ExactKey<16>> md5;
  std::vector<ExactKey<20>> sha1;
  std::vector<ExactKey<32>> sha256;

  ListMatch make_match(uint32_t e, HashAlgo algo, std::string hash) const {
    ListMatch m;
    m.list = info.name;
    m.id = entries[e].id_len == kIdIsHash
               ? hash
               : std::string(id_pool, entries[e].id_off, entries[e].id_len);
    m.algo = algo;
    m.hash = std::move(hash);
    m.labels = labels[entries[e].labels];
    m.added_at = entries[e].added_at;
    return m;
  }
};

ListSnapshot::ListSnapshot(std::vector<std::shared_ptr<const ListIndex>> lists, int64_t version)
    : lists_(std::move(lists)), version_(version) {}

ListSnapshot::~ListSnapshot() = default;

std::vector<const ListSnapshot::ListIndex*> ListSnapshot::select(const QueryOptions& opts) const {
  std::vector<const ListIndex*> out;
  if (opts.lists.empty()) {
    for (const auto& l : lists_) out.push_back(l.get());
    return out;
  }
  for (const std::string& name : opts.lists) {
    auto it = std::find_if(lists_.begin(), lists_.end(),
                           [&](const auto& l) { return l->info.name == name; });
    if (it == lists_.end()) throw InvalidArgument("no list named '" + name + "' is loaded");
    if (std::find(out.begin(), out.end(), it->get()) == out.end()) out.push_back(it->get());
  }
  return out;
}

std::vector<std::vector<ListMatch>> ListSnapshot::match_pdq(std::span<const PdqQuery> queries,
                                                            const QueryOptions& opts) const {
  if (opts.threshold && (*opts.threshold < 0 || *opts.threshold > Hash256::kBits)) {
    throw InvalidArgument("threshold must be in 0..256, got " + std::to_string(*opts.threshold));
  }
  const std::vector<const ListIndex*> lists = select(opts);
  std::vector<std::vector<ListMatch>> out(queries.size());

  // Flatten the query variants: flat[k] is variant var_of[k] of query query_of[k].
  std::vector<Hash256> flat;
  std::vector<uint32_t> query_of;
  std::vector<uint8_t> var_of;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const int nv = opts.dihedral ? std::clamp(queries[q].count, 1, kNumDihedral) : 1;
    for (int v = 0; v < nv; ++v) {
      flat.push_back(queries[q].variants[v]);
      query_of.push_back(static_cast<uint32_t>(q));
      var_of.push_back(static_cast<uint8_t>(v));
    }
  }
  if (flat.empty()) return out;

  struct Hit {
    uint32_t query, pdq_index;
    int32_t distance;
    uint8_t variant;
  };
  std::vector<PdqHit> hits;
  std::vector<Hit> best;
  for (const ListIndex* l : lists) {
    if (!l->matcher) continue;
    const int threshold = opts.threshold.value_or(l->info.threshold);
    hits.clear();
    l->matcher->range_search(flat, threshold, hits);
    best.clear();
    best.reserve(hits.size());
    for (const PdqHit& h : hits) {
      if (!pdq_match(h.distance, threshold)) continue;  // defensive: the rule is written once
      best.push_back(Hit{query_of[h.query], h.index, h.distance, var_of[h.query]});
    }
    // One result per (query, entry): the closest variant, ties to the lower variant index.
    std::sort(best.begin(), best.end(), [](const Hit& a, const Hit& b) {
      return std::tie(a.query, a.pdq_index, a.distance, a.variant) <
             std::tie(b.query, b.pdq_index, b.distance, b.variant);
    });
    for (std::size_t i = 0; i < best.size(); ++i) {
      if (i > 0 && best[i].query == best[i - 1].query && best[i].pdq_index == best[i - 1].pdq_index)
        continue;
      const Hit& h = best[i];
      ListMatch m =
          l->make_match(l->pdq_entry[h.pdq_index], HashAlgo::kPdq, l->pdq[h.pdq_index].to_hex());
      m.distance = h.distance;
      m.threshold = threshold;
      m.variant = static_cast<Dihedral>(h.variant);
      out[h.query].push_back(std::move(m));
    }
  }
  for (auto& v : out) {
    std::sort(v.begin(), v.end(), [](const ListMatch& a, const ListMatch& b) {
      return std::tie(a.distance, a.list, a.id) < std::tie(b.distance, b.list, b.id);
    });
  }
  return out;
}

std::vector<ListMatch> ListSnapshot::match_exact(const HashValue& value,
                                                 const QueryOptions& opts) const {
  std::vector<ListMatch> out;
  if (value.algo == HashAlgo::kPdq) {
    QueryOptions o = opts;
    o.threshold = 0;
    o.dihedral = false;
    const PdqQuery q = PdqQuery::original(value.to_hash256());
    auto r = match_pdq(std::span<const PdqQuery>(&q, 1), o);
    return std::move(r[0]);
  }
  std::vector<uint32_t> found;
  const std::string hex = value.to_hex();
  for (const ListIndex* l : select(opts)) {
    found.clear();
    switch (value.algo) {
      case HashAlgo::kMd5:
        lookup<16>(l->md5, value.bytes.data(), found);
        break;
      case HashAlgo::kSha1:
        lookup<20>(l->sha1, value.bytes.data(), found);
        break;
      case HashAlgo::kSha256:
        lookup<32>(l->sha256, value.bytes.data(), found);
        break;
      case HashAlgo::kPdq:
        break;
    }
    for (uint32_t e : found) out.push_back(l->make_match(e, value.algo, hex));
  }
  std::sort(out.begin(), out.end(), [](const ListMatch& a, const ListMatch& b) {
    return std::tie(a.list, a.id) < std::tie(b.list, b.id);
  });
  return out;
}

std::vector<ListMatch> ListSnapshot::match_digests(const ExactDigests& d,
                                                   const QueryOptions& opts) const {
  std::vector<ListMatch> out;
  const std::pair<HashAlgo, const std::string*> parts[] = {
      {HashAlgo::kMd5, &d.md5}, {HashAlgo::kSha1, &d.sha1}, {HashAlgo::kSha256, &d.sha256}};
  for (const auto& [algo, hex] : parts) {
    if (hex->empty()) continue;
    for (ListMatch& m : match_exact(HashValue::parse(algo, *hex), opts))
      out.push_back(std::move(m));
  }
  return out;
}

std::vector<SnapshotListInfo> ListSnapshot::lists() const {
  std::vector<SnapshotListInfo> out;
  for (const auto& l : lists_) {
    SnapshotListInfo s;
    s.info = l->info;
    s.entries = l->entries.size();
    std::copy(std::begin(l->by_algo), std::end(l->by_algo), s.by_algo);
    if (l->matcher) s.pdq_backend = l->matcher->backend();
    out.push_back(std::move(s));
  }
  return out;
}

bool ListSnapshot::has_list(const std::string& name) const {
  return std::any_of(lists_.begin(), lists_.end(),
                     [&](const auto& l) { return l->info.name == name; });
}

std::size_t ListSnapshot::entries() const {
  std::size_t n = 0;
  for (const auto& l : lists_) n += l->entries.size();
  return n;
}

// ---------------------------------------------------------------------------------------------
// ListMatcher

namespace {

// True when `id` is the lowercase hex of `bytes` (a generated id).
bool id_is_hex_of(std::string_view id, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  if (id.size() != 2 * bytes.size()) return false;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (id[2 * i] != kDigits[b >> 4] || id[2 * i + 1] != kDigits[b & 15]) return false;
  }
  return true;
}

// Reads one list's entries (inside the caller's read transaction) and builds its index.
std::shared_ptr<const ListSnapshot::ListIndex> build_index(sqlite3* db, const ListInfo& info,
                                                           const MatcherOptions& mopts) {
  auto idx = std::make_shared<ListSnapshot::ListIndex>();
  idx->info = info;
  std::unordered_map<std::string, uint32_t> label_ids;
  std::string label_key;
  sql::Stmt q(db,
              "SELECT algo, hash, ext_id, category, source, tags, added_at FROM entries "
              "WHERE list_id = ? ORDER BY id");
  q.bind(1, info.id);
  while (q.step()) {
    const int64_t algo = q.col_int(0);
    const std::string_view blob = q.col_blob(1);
    if (algo < 0 || algo >= kNumHashAlgos ||
        blob.size() != static_cast<std::size_t>(algo_bytes(static_cast<HashAlgo>(algo)))) {
      throw IoError("corrupt list database: bad entry in list '" + info.name + "'");
    }
    if (idx->entries.size() >= UINT32_MAX) throw Error("list '" + info.name + "' is too large");
    const uint32_t e = static_cast<uint32_t>(idx->entries.size());
    ListSnapshot::ListIndex::Entry ent;
    const std::string_view id = q.col_blob(2);  // the text's bytes
    if (id_is_hex_of(id, blob)) {
      ent.id_len = ListSnapshot::ListIndex::kIdIsHash;  // lists without ids: nothing to pool
    } else {
      ent.id_off = idx->id_pool.size();
      ent.id_len = static_cast<uint32_t>(id.size());
      idx->id_pool.append(id);
    }
    std::string cat = q.col_text(3), src = q.col_text(4), tags = q.col_text(5);
    label_key.clear();
    label_key.append(cat).append(1, '\x1f').append(src).append(1, '\x1f').append(tags);
    auto [it, inserted] =
        label_ids.try_emplace(label_key, static_cast<uint32_t>(idx->labels.size()));
    if (inserted) idx->labels.push_back(Labels{std::move(cat), std::move(src), split_tags(tags)});
    ent.labels = it->second;
    ent.added_at = q.col_int(6);
    idx->entries.push_back(ent);
    ++idx->by_algo[algo];
    const auto* b = reinterpret_cast<const uint8_t*>(blob.data());
    switch (static_cast<HashAlgo>(algo)) {
      case HashAlgo::kPdq: {
        HashValue v;
        v.algo = HashAlgo::kPdq;
        std::memcpy(v.bytes.data(), b, 32);
        idx->pdq.push_back(v.to_hash256());
        idx->pdq_entry.push_back(e);
        break;
      }
      case HashAlgo::kMd5: {
        ExactKey<16> k;
        std::memcpy(k.key.data(), b, 16);
        k.entry = e;
        idx->md5.push_back(k);
        break;
      }
      case HashAlgo::kSha1: {
        ExactKey<20> k;
        std::memcpy(k.key.data(), b, 20);
        k.entry = e;
        idx->sha1.push_back(k);
        break;
      }
      case HashAlgo::kSha256: {
        ExactKey<32> k;
        std::memcpy(k.key.data(), b, 32);
        k.entry = e;
        idx->sha256.push_back(k);
        break;
      }
    }
  }
  sort_keys(idx->md5);
  sort_keys(idx->sha1);
  sort_keys(idx->sha256);
  idx->id_pool.shrink_to_fit();
  idx->entries.shrink_to_fit();
  if (!idx->pdq.empty()) {
    MatcherOptions o = mopts;
    o.expected_threshold = info.threshold;
    idx->matcher = make_pdq_matcher(idx->pdq, o);  // a copy: pdq stays for reporting hashes
  }
  return idx;
}

}  // namespace

ListMatcher::ListMatcher(const std::string& db_path, ListMatcherOptions opts)
    : path_(db_path), opts_(std::move(opts)) {
  // Loading reads each list once, in row order: a small page cache is enough.
  store_ = std::make_unique<ListStore>(path_, /*create=*/false, /*cache_mib=*/8);
  for (const std::string& name : opts_.lists) store_->get_list(name);  // throws when missing
  reload();
}

ListMatcher::~ListMatcher() = default;

bool ListMatcher::reload() {
  std::lock_guard<std::mutex> lk(reload_mu_);
  const std::shared_ptr<const ListSnapshot> old = current_.load();
  std::vector<std::shared_ptr<const ListSnapshot::ListIndex>> lists;
  int64_t version = 0;
  bool changed = false;
  store_->read_snapshot([&] {
    version = store_->version();
    if (old && old->version() == version) return;
    changed = true;
    for (const ListInfo& info : store_->lists()) {
      if (!opts_.lists.empty() &&
          std::find(opts_.lists.begin(), opts_.lists.end(), info.name) == opts_.lists.end()) {
        continue;
      }
      std::shared_ptr<const ListSnapshot::ListIndex> reuse;
      if (old) {
        for (const auto& l : old->lists_) {
          if (l->info.id == info.id && l->info.generation == info.generation) reuse = l;
        }
      }
      lists.push_back(reuse ? reuse : build_index(store_->handle(), info, opts_.matcher));
    }
  });
  if (!changed) return false;
  current_.store(std::make_shared<const ListSnapshot>(std::move(lists), version));
  return true;
}

}  // namespace hashmatch
