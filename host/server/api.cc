// The HTTP/1.1 JSON API of `hashmatch serve` (docs/openapi.yaml is its contract; the integration
// test validates real responses against it). Handlers run on the HTTP thread pool and block on the
// pipelines; everything they throw is turned into a JSON error body here, at the edge.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/lists/list_matcher.h"
#include "host/media/hash_media.h"
#include "host/server/api_error.h"
#include "host/server/list_admin.h"
#include "host/server/lists_state.h"
#include "host/server/match_pipeline.h"
#include "host/server/media_pipeline.h"
#include "host/server/server.h"
#include "host/triage/seen_store.h"
#include "monitoring/metrics.h"
#include "video/vpdq_store.h"

namespace hashmatch::server {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Server::Ctx {
  // The body, read by route() after authorisation (content-reader handlers: httplib's own form
  // parsing would cap un-typed bodies at 8 KiB), and the parts of a multipart form.
  std::string body;
  std::vector<httplib::MultipartFormData> parts;
  bool multipart = false;
  Principal who;
  std::string request_id;
  Clock::time_point t0;
  std::string remote;
  Actor actor() const { return {who.name, remote, request_id}; }
};

namespace {

constexpr int kNoScope = -1;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

// `body` with a video's frames (r.vpdq) as its `vpdq` member, written as text straight from the
// typed frames (host/media/hash_media.h: write_json_line), as the CLI writes its lines: a video
// hashed frame by frame never becomes a JSON value of ~1.3 KB a frame.
void send_media_json(httplib::Response& res, int status, const json& body,
                     const MediaHashResult& r) {
  res.status = status;
  std::string text;
  write_json_line(body, r.vpdq ? &*r.vpdq : nullptr, &text);
  text += '\n';
  res.set_content(std::move(text), "application/json");
}

json error_body(const std::string& code, const std::string& message,
                const json& details = json::object()) {
  json e = {{"code", code}, {"message", message}};
  for (auto it = details.begin(); it != details.end(); ++it) e[it.key()] = it.value();
  return {{"error", e}};
}

const char* default_code(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "timeout";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 415:
      return "unsupported_media_type";
    case 429:
      return "overloaded";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

// The route template of a path (the `endpoint` label), for requests that never reached a handler.
std::string endpoint_of(const std::string& path) {
  static const char* fixed[] = {"/v1/hash",  "/v1/match", "/v1/match/hashes",
                                "/v1/lists", "/healthz",  "/readyz"};
  for (const char* f : fixed) {
    if (path == f) return f;
  }
  if (path.rfind("/v1/lists/", 0) == 0) {
    return path.find("/entries") != std::string::npos ? "/v1/lists/{name}/entries"
                                                      : "/v1/lists/{name}";
  }
  return "other";
}

ApiError refused(const Status& st, int retry_after) {
  switch (st.code) {
    case Status::kQueueFull:
      return ApiError(429, "overloaded",
                      "the server is at capacity (" + st.message + "); retry later",
                      {{"retry_after", retry_after}});
    case Status::kTooLarge:
      return ApiError(413, "payload_too_large", st.message);
    case Status::kShuttingDown:
      return ApiError(503, "shutting_down", "the server is shutting down");
    case Status::kTimeout:
      return ApiError(504, "timeout", st.message);
    default:
      return ApiError(500, "backend_failed", st.message);
  }
}

// The media bytes of a request: the raw body, or the file part of a multipart form upload (as HMA
// clients send it). Field names tried in order; otherwise the only part.
template <typename C>
std::string_view media_bytes(const C& ctx) {
  if (ctx.multipart) {
    if (ctx.parts.empty()) {
      throw ApiError(400, "bad_request", "multipart form without a part holding the media");
    }
    for (const char* name : {"file", "media", "photo", "image", "video", "content"}) {
      for (const auto& p : ctx.parts) {
        if (p.name == name) return p.content;
      }
    }
    if (ctx.parts.size() == 1) return ctx.parts.front().content;
    throw ApiError(400, "bad_request",
                   "multipart form with several parts: name the media part file, media, photo, "
                   "image or video");
  }
  return ctx.body;
}

std::optional<bool> bool_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  const std::string v = req.get_param_value(name);
  if (v == "true" || v == "1" || v == "yes" || v.empty()) return true;
  if (v == "false" || v == "0" || v == "no") return false;
  throw ApiError(
      400, "bad_request",
      std::string("query parameter ") + name + " must be true or false, got '" + v + "'");
}

std::optional<int> threshold_value(const std::string& v) {
  try {
    std::size_t pos = 0;
    const int t = std::stoi(v, &pos);
    if (pos != v.size() || t < 0 || t > 256) throw std::out_of_range("threshold");
    return t;
  } catch (const std::exception&) {
    throw ApiError(400, "bad_request", "threshold must be an integer in 0..256, got '" + v + "'");
  }
}

std::vector<std::string> split_lists(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  return out;
}

json labels_json(const Labels& l) {
  return {{"category", l.category}, {"source", l.source}, {"tags", l.tags}};
}

json match_json(const ListMatch& m) {
  json j = {{"list", m.list},
            {"id", m.id},
            {"algo", std::string(algo_name(m.algo))},
            {"hash", m.hash},
            {"labels", labels_json(m.labels)},
            {"added_at", format_utc(m.added_at)},
            {"distance", m.distance}};
  if (m.algo == HashAlgo::kPdq) {
    j["threshold"] = m.threshold;
    j["variant"] = std::string(dihedral_name(m.variant));
  } else {
    j["threshold"] = nullptr;
    j["variant"] = nullptr;
  }
  return j;
}

// Without a video's frames: send_media_json writes them.
json media_json(const MediaHashResult& r, bool dihedral) {
  json j = to_json(r, dihedral, /*with_frames=*/false);
  j.erase("path");
  j.erase("error");
  j.erase("error_reason");
  return j;
}

json searched_lists(const ListSnapshot& snap, const QueryOptions& opts) {
  json arr = json::array();
  if (opts.lists.empty()) {
    for (const SnapshotListInfo& l : snap.lists()) arr.push_back(l.info.name);
  } else {
    for (const std::string& l : opts.lists) arr.push_back(l);
  }
  return arr;
}

// Ends the connection once this response is sent. A body refused unread, or read in part, must
// not be parsed as the next request on the connection, and httplib 0.11 keeps a connection open
// whatever the response's Connection header says: it decides from the request's Connection header
// (read before routing) and from whether writing the response failed. So the request is marked
// `Connection: close` (httplib then sends that header instead of Keep-Alive; the Request it
// passes as const is its own non-const object), and the body goes out through a content provider
// that writes all of it and then reports failure, which ends httplib's keep-alive loop and closes
// the socket.
void close_after_response(const httplib::Request& req, httplib::Response& res) {
  const_cast<httplib::Request&>(req).set_header("Connection", "close");
  res.set_header("Connection", "close");
  auto body = std::make_shared<std::string>(std::move(res.body));
  res.body.clear();
  const std::string type = res.get_header_value("Content-Type");
  res.set_content_provider(
      body->size(), type.empty() ? "application/json" : type,
      [body](size_t offset, size_t length, httplib::DataSink& sink) {
        sink.write(body->data() + offset, length);
        return false;  // the response is complete: the failure only ends the connection
      });
}

// A request field as the access log shows it: bytes that could end or fake a line, split a
// field or drive a terminal (controls, space, DEL, non-ASCII) and '%' itself are percent-encoded,
// so a path with %0A in its URL stays on its line.
std::string log_field(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out.empty() ? "-" : out;
}

std::string make_request_id(const httplib::Request& req, uint64_t seq) {
  const std::string given = req.get_header_value("X-Request-Id");
  if (!given.empty() && given.size() <= 64 && std::all_of(given.begin(), given.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      })) {
    return given;
  }
  static const uint32_t boot = std::random_device{}();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x-%llu", boot, static_cast<unsigned long long>(seq));
  return buf;
}

}  // namespace

void Server::install_routes() {
  auto& h = *http_;
  auto bind = [this](const char* endpoint, int scope, Handler fn) {
    return [this, endpoint, scope, fn](const httplib::Request& req, httplib::Response& res) {
      route(req, res, nullptr, endpoint, scope, fn);
    };
  };
  auto bind_body = [this](const char* endpoint, int scope, Handler fn) {
    return [this, endpoint, scope, fn](const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& reader) {
      route(req, res, &reader, endpoint, scope, fn);
    };
  };
  const int hash = static_cast<int>(Scope::kHash), match = static_cast<int>(Scope::kMatch),
            admin = static_cast<int>(Scope::kAdmin);
  h.Get("/healthz", bind("/healthz", kNoScope, &Server::h_healthz));
  h.Get("/readyz", bind("/readyz", kNoScope, &Server::h_readyz));
  h.Post("/v1/hash", bind_body("/v1/hash", hash, &Server::h_hash));
  h.Post("/v1/match", bind_body("/v1/match", match, &Server::h_match));
  h.Post("/v1/match/hashes", bind_body("/v1/match/hashes", match, &Server::h_match_hashes));
  h.Get("/v1/lists", bind("/v1/lists", match, &Server::h_lists));
  h.Get(R"(/v1/lists/([^/]+))", bind("/v1/lists/{name}", match, &Server::h_list));
  h.Post(R"(/v1/lists/([^/]+)/entries)",
         bind_body("/v1/lists/{name}/entries", admin, &Server::h_add_entries));
  h.Delete(R"(/v1/lists/([^/]+)/entries/([^/]+))",
           bind("/v1/lists/{name}/entries/{id}", admin, &Server::h_delete_entry));
  h.set_error_handler(
      [this](const httplib::Request& req, httplib::Response& res) { on_error(req, res); });
  // A client that asks before sending its body (Expect: 100-continue, as curl does for large
  // uploads) and declares more than limits.max_body_bytes gets its 413 at once, and sends
  // nothing. Without the Expect header httplib reads and discards such a body before answering
  // (so that the client, still sending, does not meet a reset connection instead of the answer).
  h.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string len = req.get_header_value("Content-Length");
    if (!len.empty() && std::strtoull(len.c_str(), nullptr, 10) > config()->max_body_bytes) {
      res.status = 413;
      res.set_header("Connection", "close");  // the body may come anyway: not read
      return 413;  // httplib answers through on_error (the JSON error body, metrics)
    }
    return 100;
  });
  h.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (config()->access_log) {
      const std::size_t bytes = res.body.empty() ? res.content_length_ : res.body.size();
      log("access " + log_field(req.remote_addr) + " " + log_field(req.method) + " " +
          log_field(req.path) + " " + std::to_string(res.status) + " " + std::to_string(bytes) +
          " " + log_field(res.get_header_value("X-Request-Id")));
    }
  });
}

// Responses httplib produced itself (404 unknown path, 413 over the body limit, 400 unparsable
// request): give them the JSON error body and count them.
void Server::on_error(const httplib::Request& req, httplib::Response& res) {
  if (res.has_header("X-Request-Id")) return;  // a handler's own response
  const std::string id = make_request_id(req, ++request_seq_);
  res.set_header("X-Request-Id", id);
  std::string message;
  switch (res.status) {
    case 404:
      message = "no such endpoint: " + req.method + " " + req.path;
      break;
    case 413:
      message = "the request body exceeds limits.max_body_bytes (" +
                std::to_string(config()->max_body_bytes) + " bytes)";
      break;
    default:
      message = "HTTP error " + std::to_string(res.status);
      break;
  }
  send_json(res, res.status, error_body(default_code(res.status), message));
  if (res.status != 404) {
    // A request httplib refused (unparsable, a body declared too large, ...): what follows it on
    // the connection is not to be trusted as the next request.
    close_after_response(req, res);
  } else if (draining_.load()) {
    res.set_header("Connection", "close");
  }
  metrics_->observe_request(endpoint_of(req.path), res.status, 0.0);
}

void Server::authorize(const httplib::Request& req, int scope, Ctx& ctx) {
  const auto store = tokens();
  const std::string header = req.get_header_value("Authorization");
  switch (store->authenticate(header, &ctx.who)) {
    case TokenStore::Result::kOk:
      break;
    case TokenStore::Result::kMissing:
      throw ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer TOKEN)");
    case TokenStore::Result::kMalformed:
      throw ApiError(401, "unauthorized", "malformed Authorization header (expected Bearer TOKEN)");
    case TokenStore::Result::kUnknown:
      throw ApiError(401, "unauthorized", "unknown bearer token");
  }
  const Scope need = static_cast<Scope>(scope);
  if (!ctx.who.has(need)) {
    throw ApiError(
        403, "forbidden",
        "token '" + ctx.who.name + "' lacks the scope '" + std::string(scope_name(need)) + "'",
        {{"required_scope", std::string(scope_name(need))}});
  }
}

void Server::route(const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader* reader, const char* endpoint, int scope,
                   Handler fn) {
  Ctx ctx;
  ctx.t0 = Clock::now();
  ctx.request_id = make_request_id(req, ++request_seq_);
  ctx.remote = req.remote_addr;
  in_flight_.fetch_add(1);
  res.set_header("X-Request-Id", ctx.request_id);
  bool body_read = reader == nullptr;
  try {
    if (scope != kNoScope) authorize(req, scope, ctx);
    if (reader) {
      // Read only after the token was accepted. Bodies are bounded by limits.max_body_bytes
      // (httplib answers 413 beyond it) and stay in memory.
      // The limit is also enforced here, for bodies without a Content-Length (chunked).
      const uint64_t max_body = config()->max_body_bytes;
      uint64_t received = 0;
      bool over = false;
      bool read_ok = false;
      if (req.is_multipart_form_data()) {
        ctx.multipart = true;
        read_ok = (*reader)(
            [&](const httplib::MultipartFormData& part) {
              ctx.parts.push_back(part);
              return true;
            },
            [&](const char* data, size_t n) {
              received += n;
              if (received > max_body) return !(over = true);
              ctx.parts.back().content.append(data, n);
              return true;
            });
      } else {
        read_ok = (*reader)([&](const char* data, size_t n) {
          received += n;
          if (received > max_body) return !(over = true);
          ctx.body.append(data, n);
          return true;
        });
      }
      if (over) {
        throw ApiError(413, "payload_too_large",
                       "the request body exceeds limits.max_body_bytes (" +
                           std::to_string(max_body) + " bytes)");
      }
      if (!read_ok) {
        // httplib stops reading past limits.max_body_bytes (or on a broken upload).
        const uint64_t max = config()->max_body_bytes;
        const std::string len = req.get_header_value("Content-Length");
        if (res.status == 413 || (!len.empty() && std::strtoull(len.c_str(), nullptr, 10) > max) ||
            ctx.body.size() > max) {
          throw ApiError(
              413, "payload_too_large",
              "the request body exceeds limits.max_body_bytes (" + std::to_string(max) + " bytes)");
        }
        throw ApiError(400, "bad_request", "the request body could not be read");
      }
      body_read = true;
    }
    (this->*fn)(req, res, ctx);
  } catch (const ApiError& e) {
    send_json(res, e.status(), error_body(e.code(), e.what(), e.details()));
    if (e.status() == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"hashmatch\"");
    if (e.status() == 403) {
      res.set_header("WWW-Authenticate",
                     "Bearer realm=\"hashmatch\", error=\"insufficient_scope\"");
    }
    if (e.status() == 429) {
      res.set_header("Retry-After", std::to_string(config()->retry_after_seconds));
    }
  } catch (const MediaError& e) {
    send_json(res, 400, error_body("bad_media", e.what(), {{"reason", e.reason()}}));
  } catch (const InvalidArgument& e) {
    send_json(res, 400, error_body("bad_request", e.what()));
  } catch (const std::bad_alloc&) {
    send_json(res, 503, error_body("out_of_memory", "out of memory; retry later"));
  } catch (const std::exception& e) {
    send_json(res, 500, error_body("internal", e.what()));
  } catch (...) {
    send_json(res, 500, error_body("internal", "unknown error"));
  }
  // An unread or partly read body must not be taken for the next request on this connection.
  if (!body_read) {
    close_after_response(req, res);
  } else if (draining_.load()) {
    res.set_header("Connection", "close");
  }
  const double secs = std::chrono::duration<double>(Clock::now() - ctx.t0).count();
  metrics_->observe_request(endpoint, res.status, secs);
  std::size_t bytes = ctx.body.size();
  for (const auto& p : ctx.parts) bytes += p.content.size();
  metrics_->add_request_bytes(endpoint, bytes);
  in_flight_.fetch_sub(1);
}

void Server::h_healthz(const httplib::Request&, httplib::Response& res, Ctx&) {
  send_json(res, 200, {{"status", "ok"}});
}

void Server::h_readyz(const httplib::Request&, httplib::Response& res, Ctx&) {
  const bool draining = draining_.load();
  const bool loaded = lists_->loaded();
  std::string degraded;
  const bool healthy = media_->healthy(&degraded);
  const bool ready = loaded && !draining && healthy;
  json j = {{"ready", ready}, {"lists_loaded", loaded}, {"draining", draining}};
  if (!healthy) j["degraded"] = degraded + "; hashing moved to the remaining devices or the CPU";
  if (auto snap = lists_->snapshot()) {
    j["snapshot_version"] = snap->version();
    j["lists"] = snap->lists().size();
    j["entries"] = snap->entries();
  }
  if (draining) {
    j["reason"] = "draining (shutting down)";
  } else if (!loaded) {
    const std::string err = lists_->load_error();
    j["reason"] = err.empty() ? "loading the lists" : "the lists could not be loaded: " + err;
  } else if (!healthy) {
    j["reason"] = "a GPU failed (see degraded)";
  }
  send_json(res, ready ? 200 : 503, j);
}

// Media that could not be hashed: 400 bad_media with the reason, or 504 timeout when the time
// budget ran out (a video under load or a very long one: worth retrying later, unlike a broken
// file). `details` adds to the md5 and size (the exact-hash matches, for /v1/match).
[[noreturn]] static void throw_bad_media(const MediaHashResult& r, json details = json::object()) {
  details["reason"] = r.error_reason;
  details["md5"] = r.digests.md5;
  details["size"] = r.size;
  if (r.error_reason == "timeout") throw ApiError(504, "timeout", r.error, std::move(details));
  throw ApiError(400, "bad_media", r.error, std::move(details));
}

void Server::h_hash(const httplib::Request& req, httplib::Response& res, Ctx& ctx) {
  const std::string_view bytes = media_bytes(ctx);
  const bool dihedral = bool_param(req, "dihedral").value_or(false);
  MediaOutcome out;
  media_->hash(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), &out);
  if (!out.status.ok()) throw refused(out.status, config()->retry_after_seconds);
  if (!out.result.ok()) throw_bad_media(out.result);
  send_media_json(res, 200, media_json(out.result, dihedral), out.result);
}

std::shared_ptr<const QueryOptions> Server::query_options(const httplib::Request& req,
                                                          const ListSnapshot& snap, bool media,
                                                          const json* body) {
  std::optional<std::vector<std::string>> lists;
  std::optional<int> threshold;
  std::optional<bool> dihedral;
  if (req.has_param("lists")) lists = split_lists(req.get_param_value("lists"));
  if (req.has_param("threshold")) threshold = threshold_value(req.get_param_value("threshold"));
  if (media) dihedral = bool_param(req, "dihedral");
  if (body) {
    if (body->contains("lists")) {
      const json& l = (*body)["lists"];
      if (!l.is_array() ||
          !std::all_of(l.begin(), l.end(), [](const json& x) { return x.is_string(); })) {
        throw ApiError(400, "bad_request", "lists must be an array of list names");
      }
      lists = l.get<std::vector<std::string>>();
    }
    if (body->contains("threshold")) {
      const json& t = (*body)["threshold"];
      if (!t.is_number_integer())
        throw ApiError(400, "bad_request", "threshold must be an integer");
      threshold = threshold_value(t.dump());  // its own digits: a huge value does not wrap
    }
  }
  for (const std::string& l : lists.value_or(std::vector<std::string>{})) {
    if (!snap.has_list(l)) {
      throw ApiError(400, "unknown_list", "no loaded list named '" + l + "'", {{"list", l}});
    }
  }
  if (!lists && !threshold && !dihedral) {
    return std::atomic_load(media ? &media_opts_ : &hash_opts_);
  }
  const auto cfg = config();
  auto o = std::make_shared<QueryOptions>();
  o->lists = lists.value_or(std::vector<std::string>{});
  o->threshold = threshold ? threshold : cfg->threshold;
  o->dihedral = media && dihedral.value_or(cfg->dihedral);
  return o;
}

// vPDQ matching of a video against the lists: the query's frames of quality >= min_quality, one per
// distinct hash (the vPDQ matchers' dedupe), each searched like a PDQ hash. A list entry is one
// PDQ hash, so the vPDQ percentage reported per matched entry is q%: the share of the query's
// frames within the threshold of that entry (docs/server.md).
void Server::match_video(const MediaOutcome& out, const std::shared_ptr<const QueryOptions>& opts,
                         const std::shared_ptr<const ListSnapshot>& snap,
                         const std::shared_ptr<const video::VideoIndex>& index,
                         const ServerConfig& cfg, json& j, json& matches) {
  std::vector<PdqQuery> queries;
  std::vector<const VideoFrameHash*> frame_of;
  std::set<Hash256> seen;
  for (const VideoFrameHash& f : out.video_frames()) {
    if (f.quality < cfg.min_quality || !seen.insert(f.hash).second) continue;
    queries.push_back(PdqQuery::original(f.hash));
    frame_of.push_back(&f);
  }
  json summary = {{"frames", out.video_frames().size()}, {"query_frames", queries.size()}};
  auto o = opts;
  if (o->dihedral) {
    auto copy = std::make_shared<QueryOptions>(*o);
    copy->dihedral = false;  // vPDQ compares frames as they are
    o = copy;
  }
  std::vector<PdqMatchResult> results;
  if (queries.empty()) {
    j["pdq_skipped"] = "no video frame with PDQ quality >= " + std::to_string(cfg.min_quality);
  } else {
    const Status st = matcher_->match(queries, o, snap, &results);
    if (!st.ok()) throw refused(st, cfg.retry_after_seconds);
  }
  struct Group {
    ListMatch best;
    std::size_t frames = 0;
    double first_ts = 0;
    int64_t first_frame = 0;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (std::size_t q = 0; q < results.size(); ++q) {
    if (!results[q].error.empty()) throw ApiError(500, "match_failed", results[q].error);
    std::set<std::pair<std::string, std::string>> counted;
    for (const ListMatch& m : results[q].matches) {
      const auto key = std::make_pair(m.list, m.id);
      auto [it, fresh] = groups.try_emplace(key);
      Group& g = it->second;
      if (fresh || m.distance < g.best.distance) g.best = m;
      if (counted.insert(key).second) {
        if (g.frames == 0 || frame_of[q]->timestamp < g.first_ts) {
          g.first_ts = frame_of[q]->timestamp;
          g.first_frame = frame_of[q]->frame_number;
        }
        ++g.frames;
      }
    }
  }
  std::map<std::string, uint64_t> by_list;  // matches reported: one per entry, one per video
  for (const auto& [key, g] : groups) {
    ++by_list[key.first];
    json m = match_json(g.best);
    m["video"] = {{"frames_matched", g.frames},
                  {"query_frames", queries.size()},
                  {"query_match_percent",
                   100.0 * static_cast<double>(g.frames) / static_cast<double>(queries.size())},
                  {"first_frame", g.first_frame},
                  {"first_timestamp", g.first_ts}};
    matches.push_back(std::move(m));
  }
  summary["entries_matched"] = groups.size();
  // Listed videos (stored as their vPDQ frames): vPDQ's video-level rule, q% and c%, under this
  // request's configuration, as the frames above: its match.min_quality on both sides, and its
  // threshold (the request's or match.threshold; default 31) as the frames' distance threshold, as
  // in `hashmatch match` and `scan` (exact at any threshold: one range search at it).
  video::VideoMatchOptions vo;
  vo.quality_threshold = cfg.min_quality;
  if (o->threshold) vo.distance_threshold = *o->threshold;
  vo.query_match_percent = cfg.video_match_percent;
  vo.compared_match_percent = cfg.video_compared_match_percent;
  if (index) {
    const std::span<const VideoFrameHash> frames = out.video_frames();
    std::size_t videos_matched = 0;
    for (const video::VideoListMatch& vm : index->match(frames, vo)) {
      if (!o->lists.empty() &&
          std::find(o->lists.begin(), o->lists.end(), vm.list) == o->lists.end()) {
        continue;
      }
      const video::VideoMatchResult& r = vm.result;
      matches.push_back({{"list", vm.list},
                         {"id", vm.id},
                         {"algo", "vpdq"},
                         {"hash", nullptr},
                         {"labels", labels_json(vm.labels)},
                         {"added_at", format_utc(vm.added_at)},
                         {"distance", nullptr},
                         {"threshold", vo.distance_threshold},
                         {"variant", nullptr},
                         {"vpdq",
                          {{"query_match_percent", r.query_match_percent},
                           {"compared_match_percent", r.compared_match_percent},
                           {"query_frames", r.query_frames},
                           {"compared_frames", r.compared_frames},
                           {"query_matched", r.query_matched},
                           {"compared_matched", r.compared_matched}}}});
      ++by_list[vm.list];
      ++videos_matched;
    }
    summary["listed_videos"] = index->videos(o->lists);  // those of the lists searched
    summary["videos_matched"] = videos_matched;
  }
  for (const auto& [l, n] : by_list) metrics_->add_matches(l, n);
  j["vpdq_match"] = summary;
}

void Server::h_match(const httplib::Request& req, httplib::Response& res, Ctx& ctx) {
  auto snap = lists_->snapshot();
  if (!snap) throw ApiError(503, "not_ready", "the lists are still loading; retry later");
  // The listed videos as they are now, with the snapshot: a reload while the media decodes does
  // not change what this request is matched against.
  const auto videos = lists_->videos();
  const auto opts = query_options(req, *snap, /*media=*/true, nullptr);
  const auto cfg = config();
  const std::string_view bytes = media_bytes(ctx);
  MediaOutcome out;
  media_->hash(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), &out);
  if (!out.status.ok()) throw refused(out.status, cfg->retry_after_seconds);
  const MediaHashResult& r = out.result;
  // Exact hashes first: a listed file that is broken (or too large, or too slow to decode) is
  // still a listed file, and its matches go into the error's body.
  json matches = json::array();
  std::map<std::string, uint64_t> exact_by_list;
  if (r.have_digests) {
    for (const ListMatch& m : snap->match_digests(r.digests, *opts)) {
      ++exact_by_list[m.list];
      matches.push_back(match_json(m));
    }
  }
  for (const auto& [l, n] : exact_by_list) metrics_->add_matches(l, n);
  if (!r.ok()) {
    json details = json::object();
    // A damaged or truncated video keeps the frames hashed before the problem: they are matched
    // too (frame and listed-video matches, and the vpdq_match summary), as `hashmatch match` does.
    // A matcher that refuses them (overloaded) gets the request refused (429/503, retried later)
    // rather than an answer without them.
    if (out.video && !out.video_frames().empty()) {
      json partial = json::object();
      match_video(out, opts, snap, videos, *cfg, partial, matches);
      details["vpdq_match"] = partial["vpdq_match"];
    }
    details["matches"] = matches;
    throw_bad_media(r, std::move(details));
  }
  json j = media_json(r, bool_param(req, "dihedral_hashes").value_or(false));
  if (out.video) {
    match_video(out, opts, snap, videos, *cfg, j, matches);
  } else if (r.pdq) {
    if (r.pdq->quality < cfg->min_quality) {
      j["pdq_skipped"] = "PDQ quality " + std::to_string(r.pdq->quality) + " is below " +
                         std::to_string(cfg->min_quality) + " (match.min_quality)";
    } else {
      std::vector<PdqQuery> queries = {opts->dihedral ? PdqQuery::dihedral(r.pdq->hashes)
                                                      : PdqQuery::original(r.pdq->hashes[0])};
      std::vector<PdqMatchResult> results;
      const Status st = matcher_->match(std::move(queries), opts, snap, &results);
      if (!st.ok()) throw refused(st, cfg->retry_after_seconds);
      if (!results[0].error.empty()) throw ApiError(500, "match_failed", results[0].error);
      std::map<std::string, uint64_t> by_list;
      for (const ListMatch& m : results[0].matches) {
        ++by_list[m.list];
        matches.push_back(match_json(m));
      }
      for (const auto& [l, n] : by_list) metrics_->add_matches(l, n);
    }
  }
  j["lists"] = searched_lists(*snap, *opts);
  j["dihedral"] = opts->dihedral && !out.video;  // a video's frames are compared as they are
  j["matched"] = !matches.empty();
  if (seen_ && matches.empty()) {
    // Seen-before memory (docs/triage.md): media that matched no list is looked up by MD5 and,
    // for an image of sufficient quality, by PDQ; its arrival is recorded unless read-only. A
    // memory failure does not cost the match answer: it is reported beside it.
    triage::SeenItem item;
    if (!out.video && r.pdq && r.pdq->quality >= cfg->min_quality) item.pdq = r.pdq->hashes[0];
    item.md5 = r.digests.md5;
    try {
      const triage::SeenAnswer a = seen_->observe(item, triage::utc_now_iso());
      j["seen_before"] = a.seen_before ? json{{"count", a.count},
                                              {"first_seen", a.first_seen},
                                              {"last_seen", a.last_seen},
                                              {"cluster", a.cluster}}
                                       : json(nullptr);
    } catch (const std::exception& e) {
      log(std::string("seen-before memory: ") + e.what());
      j["seen_before_error"] = e.what();
    }
  }
  j["matches"] = std::move(matches);
  send_media_json(res, 200, j, r);
}

void Server::h_match_hashes(const httplib::Request& req, httplib::Response& res, Ctx& ctx) {
  auto snap = lists_->snapshot();
  if (!snap) throw ApiError(503, "not_ready", "the lists are still loading; retry later");
  const auto cfg = config();
  json body;
  try {
    body = json::parse(ctx.body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, "bad_request", std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.is_object() || !body.contains("hashes") || !body["hashes"].is_array()) {
    throw ApiError(400, "bad_request", "expected a JSON object with a 'hashes' array");
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "hashes" && it.key() != "lists" && it.key() != "threshold") {
      throw ApiError(400, "bad_request",
                     "unknown field '" + it.key() + "' (hashes, lists, threshold)");
    }
  }
  const json& hashes = body["hashes"];
  if (hashes.size() > static_cast<std::size_t>(cfg->max_hashes_per_request)) {
    throw ApiError(413, "too_many_hashes",
                   std::to_string(hashes.size()) + " hashes in one request; the limit is " +
                       std::to_string(cfg->max_hashes_per_request) +
                       " (limits.max_hashes_per_request)");
  }
  const auto opts = query_options(req, *snap, /*media=*/false, &body);

  struct Item {
    HashValue value;
    json ref;
    std::optional<int> quality;
  };
  std::vector<Item> items;
  items.reserve(hashes.size());
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    const json& h = hashes[i];
    const std::string where = "hashes[" + std::to_string(i) + "]";
    auto bad = [&](const std::string& why) {
      return ApiError(400, "bad_hash", where + ": " + why, {{"index", i}});
    };
    Item it;
    std::string text;
    std::optional<HashAlgo> algo;
    if (h.is_string()) {
      text = h.get<std::string>();
      algo = algo_from_hex_length(text.size());
      if (!algo) {
        throw bad("'" + text.substr(0, 80) +
                  "' is not a hash: 32 hex characters (MD5), 40 (SHA-1) or 64 (PDQ) expected");
      }
    } else if (h.is_object()) {
      for (auto f = h.begin(); f != h.end(); ++f) {
        if (f.key() == "ref") {
          it.ref = *f;
        } else if (f.key() == "quality") {
          if (!is_pdq_quality(*f))
            throw bad("quality must be an integer in 0..100, got " + f->dump());
          it.quality = f->get<int>();
        } else if (auto a = parse_algo(f.key())) {
          if (algo) throw bad("give one hash per item");
          if (!f->is_string()) throw bad(f.key() + " must be a hex string");
          algo = a;
          text = f->get<std::string>();
        } else {
          throw bad("unknown field '" + f.key() + "' (pdq, md5, sha1, sha256, ref, quality)");
        }
      }
      if (!algo) throw bad("no hash (pdq, md5, sha1 or sha256)");
    } else {
      throw bad("expected a hex string or an object like {\"pdq\": \"...\"}");
    }
    std::string why;
    if (!HashValue::try_parse(*algo, text, &it.value, &why)) throw bad(why);
    items.push_back(std::move(it));
  }

  // PDQ queries go through the matching batcher; exact values are table lookups.
  std::vector<PdqQuery> pdq;
  std::vector<std::size_t> pdq_index;
  std::vector<json> results(items.size());
  std::map<std::string, uint64_t> exact_by_list;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    json r = {{"index", i},
              {"algo", std::string(algo_name(it.value.algo))},
              {"hash", it.value.to_hex()},
              {"matches", json::array()}};
    if (!it.ref.is_null()) r["ref"] = it.ref;
    if (it.value.algo == HashAlgo::kPdq) {
      if (it.quality && *it.quality < cfg->min_quality) {
        r["skipped"] = "PDQ quality " + std::to_string(*it.quality) + " is below " +
                       std::to_string(cfg->min_quality) + " (match.min_quality)";
      } else {
        pdq.push_back(PdqQuery::original(it.value.to_hash256()));
        pdq_index.push_back(i);
      }
    } else {
      for (const ListMatch& m : snap->match_exact(it.value, *opts)) {
        ++exact_by_list[m.list];
        r["matches"].push_back(match_json(m));
      }
    }
    results[i] = std::move(r);
  }
  for (const auto& [l, n] : exact_by_list) metrics_->add_matches(l, n);
  if (!pdq.empty()) {
    std::vector<PdqMatchResult> found;
    const Status st = matcher_->match(std::move(pdq), opts, snap, &found);
    if (!st.ok()) throw refused(st, cfg->retry_after_seconds);
    std::map<std::string, uint64_t> by_list;
    for (std::size_t k = 0; k < found.size(); ++k) {
      if (!found[k].error.empty()) throw ApiError(500, "match_failed", found[k].error);
      for (const ListMatch& m : found[k].matches) {
        ++by_list[m.list];
        results[pdq_index[k]]["matches"].push_back(match_json(m));
      }
    }
    for (const auto& [l, n] : by_list) metrics_->add_matches(l, n);
  }
  std::size_t matched = 0;
  for (const json& r : results) matched += r["matches"].empty() ? 0 : 1;
  json out = {{"lists", searched_lists(*snap, *opts)},
              {"queries", items.size()},
              {"matched", matched},
              {"results", results}};
  send_json(res, 200, out);
}

void Server::h_lists(const httplib::Request&, httplib::Response& res, Ctx&) {
  send_json(res, 200, admin_->lists_json());
}

void Server::h_list(const httplib::Request& req, httplib::Response& res, Ctx&) {
  send_json(res, 200, admin_->list_json(req.matches[1].str()));
}

void Server::h_add_entries(const httplib::Request& req, httplib::Response& res, Ctx& ctx) {
  const std::string list = req.matches[1].str();
  const std::string format = req.has_param("format") ? req.get_param_value("format") : "";
  std::optional<int> threshold;
  if (req.has_param("threshold")) threshold = threshold_value(req.get_param_value("threshold"));
  std::string_view body = ctx.body;
  std::string content_type = req.get_header_value("Content-Type");
  if (ctx.multipart) {
    if (ctx.parts.size() != 1) {
      throw ApiError(400, "bad_request", "send one file part with the list to import");
    }
    body = ctx.parts.front().content;
    content_type = ctx.parts.front().content_type;
  }
  if (body.empty()) throw ApiError(400, "bad_request", "empty body: nothing to add");
  const json r = admin_->add_entries(list, body, content_type, format, threshold, ctx.actor());
  send_json(res, r.value("created", false) ? 201 : 200, r);
}

void Server::h_delete_entry(const httplib::Request& req, httplib::Response& res, Ctx& ctx) {
  const std::string list = req.matches[1].str();
  const std::string id = req.matches[2].str();
  send_json(res, 200, admin_->delete_entry(list, id, ctx.actor()));
}

}  // namespace hashmatch::server
