// List administration through the API: reading list statistics, adding entries (a JSON document
// or any import format host/lists reads), removing entries by id. Every change runs in one SQLite
// transaction (all or nothing), is appended to the audit log (who, when, what) and is followed by a
// reload of the list snapshot, so matching sees it before the response is sent.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "host/lists/list_store.h"
#include "host/server/audit_log.h"
#include "host/server/lists_state.h"
#include "monitoring/metrics.h"

namespace hashmatch::server {

class ListAdmin {
 public:
  // Opens (creating when missing) the database and the audit log. Throws IoError.
  ListAdmin(const std::string& db, const std::string& audit_path, ListsState& lists,
            monitoring::Metrics& metrics);

  // GET /v1/lists and GET /v1/lists/{name} (ApiError 404 for an unknown list).
  nlohmann::json lists_json();
  nlohmann::json list_json(const std::string& name);

  // POST /v1/lists/{name}/entries. `content_type` "application/json" (without `format`) reads the
  // entries document; anything else goes through the importers (`format`: auto, te, csv, tsv,
  // lines, vics, ncmec). `threshold` applies when the list is created by this call.
  nlohmann::json add_entries(const std::string& list, std::string_view body,
                             const std::string& content_type, const std::string& format,
                             std::optional<int> threshold, const Actor& actor);
  // DELETE /v1/lists/{name}/entries/{id}: ApiError 404 when the list or the id is unknown.
  nlohmann::json delete_entry(const std::string& list, const std::string& id, const Actor& actor);

  const std::string& audit_path() const { return audit_.path(); }

 private:
  nlohmann::json stats_json(const ListStats& s, const ListSnapshot* snap);
  ImportSummary import_json(const std::string& list, std::string_view body,
                            const std::string& source);
  void after_change(const Actor& actor, const std::string& action, nlohmann::json what);

  std::mutex mu_;  // the store is used by one thread at a time
  ListStore store_;
  AuditLog audit_;
  ListsState& lists_;
  monitoring::Metrics& metrics_;
};

}  // namespace hashmatch::server
