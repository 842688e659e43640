// Matching queries against the hash lists of a ListStore database.
//
// A ListSnapshot is an immutable in-memory index of some lists at one consistent moment: per list
// a PDQ matcher (make_pdq_matcher, host/match/matcher.h) over its PDQ entries and sorted tables of
// its MD5, SHA-1 and SHA-256 entries, with each entry's id and labels. A ListMatcher owns the
// current snapshot and publishes a new one with an atomic swap on reload(): queries in flight keep
// the snapshot they started with (shared_ptr), so matching never sees a half-applied change.
//
// Thread-safety: ListSnapshot is immutable; all its methods may be called from any number of
// threads at once. ListMatcher::snapshot() is lock-free-ish (atomic shared_ptr load) and safe to
// call concurrently with reload(); reload() calls are serialised internally.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "host/common/digest.h"
#include "host/common/hash256.h"
#include "host/lists/hash_value.h"
#include "host/lists/list_store.h"
#include "host/match/matcher.h"

namespace hashmatch {

// One PDQ query: the hash of the item (variants[0]) and, for dihedral matching, the hashes of its
// 8 dihedral transforms in Dihedral order (pdq::PdqHasher::hash_dihedral gives all 8).
struct PdqQuery {
  std::array<Hash256, kNumDihedral> variants{};
  int count = 1;  // 1: only the original; 8: all dihedral variants present

  static PdqQuery original(const Hash256& h) {
    PdqQuery q;
    q.variants[0] = h;
    return q;
  }
  static PdqQuery dihedral(const std::array<Hash256, kNumDihedral>& all) {
    PdqQuery q;
    q.variants = all;
    q.count = kNumDihedral;
    return q;
  }
};

struct QueryOptions {
  std::vector<std::string> lists;  // lists to search (empty: every list of the snapshot)
  std::optional<int> threshold;    // PDQ threshold for every list, instead of each list's own
  bool dihedral = false;           // also match the dihedral variants a query carries
};

// One match of a query against a list entry.
struct ListMatch {
  std::string list;
  std::string id;  // the entry's external id
  HashAlgo algo = HashAlgo::kPdq;
  std::string hash;  // the entry's hash, lowercase hex
  Labels labels;
  int64_t added_at = 0;                    // unix seconds
  int distance = 0;                        // PDQ: Hamming distance (<= threshold); exact: 0
  int threshold = 0;                       // PDQ: the threshold applied; exact: 0
  Dihedral variant = Dihedral::kOriginal;  // PDQ: the query variant that matched (the closest)
};

struct SnapshotListInfo {
  ListInfo info;
  std::size_t entries = 0;
  std::size_t by_algo[kNumHashAlgos] = {};
  std::string pdq_backend;  // the PDQ matcher's backend ("" when the list has no PDQ entries)
};

class ListSnapshot {
 public:
  struct ListIndex;  // one list's index (shared between snapshots while the list is unchanged)

  ListSnapshot(std::vector<std::shared_ptr<const ListIndex>> lists, int64_t version);
  ~ListSnapshot();

  // For each query, every PDQ entry within the threshold of the query (or of any of its variants
  // when opts.dihedral; an entry matched by several variants is reported once, with the closest
  // variant, ties to the lower variant index). Result i belongs to query i, sorted by
  // (distance, list, id). Throws InvalidArgument for an unknown list or a threshold outside
  // 0..256.
  std::vector<std::vector<ListMatch>> match_pdq(std::span<const PdqQuery> queries,
                                                const QueryOptions& opts = {}) const;
  // Exact lookup of one MD5/SHA-1/SHA-256 value (a PDQ value is matched at distance 0 only).
  std::vector<ListMatch> match_exact(const HashValue& value, const QueryOptions& opts = {}) const;
  // md5, sha1 and sha256 of one item (the fields left empty are skipped).
  std::vector<ListMatch> match_digests(const ExactDigests& d, const QueryOptions& opts = {}) const;

  std::vector<SnapshotListInfo> lists() const;
  bool has_list(const std::string& name) const;
  std::size_t entries() const;
  int64_t version() const { return version_; }  // the store version it was built from

 private:
  friend class ListMatcher;
  std::vector<const ListIndex*> select(const QueryOptions& opts) const;
  std::vector<std::shared_ptr<const ListIndex>> lists_;  // by name
  int64_t version_ = 0;
};

struct ListMatcherOptions {
  MatcherOptions matcher;          // PDQ backend; expected_threshold is set per list
  std::vector<std::string> lists;  // lists to load (empty: all lists in the database)
};

class ListMatcher {
 public:
  // Opens the database and builds the first snapshot. Throws IoError / InvalidArgument (a named
  // list that does not exist).
  explicit ListMatcher(const std::string& db_path, ListMatcherOptions opts = {});
  ~ListMatcher();

  // The current snapshot; keep the pointer for the duration of a request.
  std::shared_ptr<const ListSnapshot> snapshot() const { return current_.load(); }

  // Re-reads the database; lists whose generation changed (or that appeared or vanished) are
  // rebuilt, the others reused, and the new snapshot is swapped in atomically. Returns false (and
  // publishes nothing) when the store version did not change. On error the current snapshot stays
  // and the error is thrown.
  bool reload();

 private:
  std::string path_;
  ListMatcherOptions opts_;
  std::mutex reload_mu_;
  std::unique_ptr<ListStore> store_;  // used under reload_mu_
  std::atomic<std::shared_ptr<const ListSnapshot>> current_;
};

}  // namespace hashmatch
