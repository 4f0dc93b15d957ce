#include "ptx/serve/server.h"

#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <unordered_map>

#include "ptx/core/atomic_file.h"
#include "ptx/core/embedded.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/sha256.h"
#include "ptx/core/utc_time.h"
#include "ptx/dicomnet/instance_record.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/image.h"
#include "ptx/io/rle.h"
#include "ptx/post/overlay.h"
#include "ptx/predict/radiograph.h"
#include "ptx/serve/upload.h"
#include "ptx/serve/work_queue.h"
#include "ptx/serve/worklist.h"
#include "ptx/version.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ptx::serve {

namespace {

// One prediction: its worklist entry and its files (name -> bytes), downloadable under its id.
struct Result {
  WorklistEntry entry;
  std::map<std::string, std::string> files;
};

// The last `capacity` results under random ids (16 hex digits; the id is the only way to them).
class ResultStore {
 public:
  explicit ResultStore(std::size_t capacity) : capacity_(std::max<std::size_t>(1, capacity)) {}

  // Stores r under a new id and returns its entry, id and files filled in.
  WorklistEntry add(Result r) {
    std::lock_guard<std::mutex> lock(mutex_);
    char id[17];
    std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(random_()));
    r.entry.id = id;
    for (const auto& [name, bytes] : r.files) r.entry.files.push_back(name);
    const WorklistEntry entry = r.entry;
    order_.push_back(id);
    results_[id] = std::make_shared<const Result>(std::move(r));
    while (order_.size() > capacity_) {
      results_.erase(order_.front());
      order_.pop_front();
    }
    return entry;
  }

  std::optional<std::string> file(const std::string& id, const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = results_.find(id);
    if (it == results_.end()) return std::nullopt;
    const auto file = it->second->files.find(name);
    return file == it->second->files.end() ? std::nullopt : std::optional<std::string>(file->second);
  }

  // The entries, newest first.
  std::vector<WorklistEntry> newest() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<WorklistEntry> entries;
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) entries.push_back(results_.at(*it)->entry);
    return entries;
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::mt19937_64 random_{std::random_device{}()};
  std::deque<std::string> order_;
  std::unordered_map<std::string, std::shared_ptr<const Result>> results_;
};

// A private folder for the files DCMTK must read or write by name, removed at the end.
class PrivateFolder {
 public:
  PrivateFolder() {
    std::string pattern = (fs::temp_directory_path() / "ptx-serve-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw core::Error("cannot create a private temporary folder in " +
                                                      fs::temp_directory_path().string());
    path_ = pattern;
  }
  ~PrivateFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  // A new file name in the folder: the server's own counter, never anything from the client.
  fs::path new_file(const std::string& suffix) { return path_ / ("upload-" + std::to_string(++counter_) + suffix); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  std::atomic<uint64_t> counter_{0};
};

// Removes a file when the scope ends (uploads never outlive their request on disk).
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    if (!path.empty()) fs::remove(path, ec);
  }
};

constexpr int kMaxImageSide = 8192;  // radiographs are at most about 4k x 4k

struct Answer {
  int status = 200;
  json body;
};

json error_body(const std::string& message) { return {{"error", message}}; }

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// DICOM attributes shown on the page: the acquisition, never the patient's name or ids.
json dicom_metadata(const io::DicomMeta& m) {
  json j{{"modality", m.modality},
         {"body_part_examined", m.body_part_examined},
         {"view_position", m.view_position},
         {"patient_sex", m.patient_sex},
         {"rows", m.rows},
         {"columns", m.columns},
         {"photometric_interpretation", m.photometric_interpretation},
         {"bits_stored", m.bits_stored},
         {"transfer_syntax_uid", m.transfer_syntax_uid}};
  j["patient_age_years"] = m.patient_age_years ? json(*m.patient_age_years) : json(nullptr);
  j["pixel_spacing_mm"] = m.pixel_spacing_row_mm && m.pixel_spacing_col_mm
                              ? json::array({*m.pixel_spacing_row_mm, *m.pixel_spacing_col_mm})
                              : json(nullptr);
  return j;
}

json ensemble_json(const predict::Ensemble& ensemble, const std::vector<std::string>& paths) {
  json members = json::array();
  for (std::size_t i = 0; i < ensemble.members().size(); ++i) {
    const auto& m = ensemble.members()[i];
    const std::string& path = i < paths.size() ? paths[i] : m.path;
    members.push_back({{"file", fs::path(path).filename().string()},
                       {"sha256", core::sha256_file_hex(path)},
                       {"spec", m.spec},
                       {"weight", m.weight},
                       {"input", {{"size", m.input.size}, {"channels", m.input.channels}}}});
  }
  return members;
}

}  // namespace

struct Server::Impl {
  const predict::Ensemble segmenter, classifier;
  ServeOptions options;
  json model_info;  // computed once: hashing a checkpoint per request would be wasteful
  PrivateFolder folder;
  ResultStore results;
  std::unique_ptr<SpoolReader> spool;  // ptx node's results, when --spool names its folder
  WorkQueue queue;
  httplib::Server http;

  Impl(predict::Ensemble s, predict::Ensemble c, ServeOptions o)
      : segmenter(std::move(s)),
        classifier(std::move(c)),
        options(std::move(o)),
        results(options.kept_results),
        spool(options.spool.empty() ? nullptr : std::make_unique<SpoolReader>(options.spool)),
        queue(options.workers, options.max_waiting) {
    model_info = {{"version", kVersion},
                  {"segmenters", ensemble_json(segmenter, options.checkpoints)},
                  {"classifiers", ensemble_json(classifier, options.classifiers)},
                  {"triplet", options.image.triplet.str()},
                  {"tta", options.image.hflip ? "hflip" : "none"}};
    if (!classifier.empty()) model_info["gate"] = options.image.gate;
    routes();
  }

  // A message without the server's own file names, which mean nothing to the client.
  std::string for_client(std::string message) const {
    const std::string dir = folder.path().string() + "/";
    for (auto at = message.find(dir); at != std::string::npos; at = message.find(dir, at)) {
      auto end = message.find_first_of(": ", at + dir.size());
      message.replace(at, (end == std::string::npos ? message.size() : end) - at, "upload");
    }
    return message;
  }

  // The prediction of one upload whose kind is known; runs on a worker.
  Answer predict_upload(const std::string& body, UploadKind kind) {
    const auto start = std::chrono::steady_clock::now();
    predict::Radiograph r;
    RemoveOnExit source;
    try {
      if (kind == UploadKind::dicom) {
        source.path = folder.new_file(".dcm");
        core::write_file_atomic(source.path, body);
        r = predict::read_radiograph(source.path.string());
      } else {
        r.gray = io::decode_gray_image(body, "upload");
      }
    } catch (const core::Error& e) {
      return {422, error_body("the " + upload_kind_name(kind) + " upload cannot be decoded: " + for_client(e.what()))};
    }
    // A small file can hold a huge image (PNG compresses a blank gigapixel to a few MB): the maps
    // of one would take gigabytes.
    if (double(r.gray.total()) > double(kMaxImageSide) * kMaxImageSide)
      return {422, error_body("the image is " + std::to_string(r.gray.cols) + " x " + std::to_string(r.gray.rows) +
                              " pixels; at most " + std::to_string(kMaxImageSide * kMaxImageSide) +
                              " pixels (" + std::to_string(kMaxImageSide) + " x " + std::to_string(kMaxImageSide) + ")")};
    const auto p = predict::predict_image(segmenter, classifier, r.gray, options.image);
    const std::string rle = p.area ? io::rle_encode(p.mask) : "-1";
    Result result;
    result.entry.source = "upload";
    result.entry.time = core::utc_now();
    result.entry.status = p.area > 0 ? "positive" : "negative";
    result.entry.probability = p.probability;
    result.entry.area_pixels = p.area;
    if (r.mm2_per_pixel > 0) result.entry.area_mm2 = p.area * r.mm2_per_pixel;
    result.entry.width = r.gray.cols;
    result.entry.height = r.gray.rows;
    result.files["overlay.png"] = io::encode_png(post::draw_overlay(r.gray, p.mask));
    result.files["mask.png"] = io::encode_png(p.mask);
    result.files["mask.rle.txt"] = rle + "\n";
    std::vector<std::string> warnings = r.meta ? io::chest_radiograph_warnings(*r.meta) : std::vector<std::string>{};
    if (r.meta && p.area > 0) {
      // A SEG that cannot be made does not undo the prediction: the answer says why it is missing.
      try {
        const RemoveOnExit seg{folder.new_file("-seg.dcm")};
        io::write_dicom_seg(seg.path.string(), source.path.string(), p.mask);
        result.files["seg.dcm"] = core::read_file(seg.path);
      } catch (const core::Error& e) {
        warnings.push_back("no DICOM SEG: " + for_client(e.what()));
      }
    }
    // The worklist's fields (id, time, status, probability, area, size, links), and the upload's own.
    json answer = entry_json(results.add(std::move(result)));
    answer.update({{"kind", upload_kind_name(kind)},
                   {"positive", p.area > 0},
                   {"gated", p.gated},
                   {"rle", rle},
                   {"triplet", options.image.triplet.str()}});
    answer["metadata"] = r.meta ? dicom_metadata(*r.meta) : json{{"rows", r.gray.rows}, {"columns", r.gray.cols}};
    answer["warnings"] = warnings;
    answer["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return {200, answer};
  }

  void routes() {
    http.set_payload_max_length(options.max_upload_bytes);
    // SO_REUSEADDR (a restart binds at once) but not httplib's default SO_REUSEPORT, with which a
    // second server on the same port would silently share its connections.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
    });
    http.new_task_queue = [n = options.http_threads] { return new httplib::ThreadPool(std::size_t(std::max(2, n))); };
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      core::info(req.method + " " + req.path + " " + std::to_string(res.status));  // no query, no body
    });
    // Every error answer is JSON, those httplib makes itself (404, 413) included.
    http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413)
        send_json(res, 413, error_body("upload larger than the limit of " + std::to_string(options.max_upload_bytes) +
                                           " bytes (ptx serve --max-upload-mb)"));
      else
        send_json(res, res.status,
                  error_body(res.status == 404 ? "no such page: the API is under /api/v1 (see the README)"
                                               : "HTTP error " + std::to_string(res.status)));
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string message = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        message += std::string(": ") + e.what();
      } catch (...) {
      }
      send_json(res, 500, error_body(message));
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(embedded::kServePage, "text/html; charset=utf-8");
    });
    http.Get("/api/v1/health", [this](const httplib::Request&, httplib::Response& res) {
      const auto load = queue.load();
      send_json(res, 200, {{"status", "ok"}, {"version", kVersion},
                           {"queue", {{"running", load.running}, {"waiting", load.waiting},
                                      {"workers", load.workers}, {"max_waiting", load.max_waiting}}}});
    });
    http.Get("/api/v1/model", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, model_info); });
    // The body is read through a content reader, whatever its Content-Type: httplib would parse a
    // form-urlencoded body (curl --data-binary's default type) and refuse one over 8 kB.
    http.Post("/api/v1/predict", [this](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& read) {
      const auto declared = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
      std::string body;
      const bool complete = declared <= options.max_upload_bytes && read([&](const char* data, std::size_t n) {
        body.append(data, n);
        return body.size() <= options.max_upload_bytes;  // a chunked upload declares no length
      });
      if (declared > options.max_upload_bytes || body.size() > options.max_upload_bytes) {
        res.status = 413;  // the error handler words it
        return;
      }
      if (!complete) return send_json(res, 400, error_body("the upload was cut off before its end"));
      if (body.empty())
        return send_json(res, 400, error_body("empty body: send the DICOM, PNG or JPEG file itself as the body "
                                              "(curl --data-binary @image.dcm)"));
      const UploadKind kind = sniff_upload(body);
      if (kind == UploadKind::unknown)
        return send_json(res, 415, error_body("not a DICOM (Part 10, with its DICM preamble), PNG or JPEG file"));
      // The handler waits for the job, so body outlives it.
      auto answer = queue.try_submit([this, &body, kind]() -> Answer {
        try {
          return predict_upload(body, kind);
        } catch (const std::exception& e) {
          return {500, error_body(std::string("prediction failed: ") + e.what())};
        }
      });
      if (!answer) {
        res.set_header("Retry-After", "1");
        return send_json(res, 503, error_body("busy: " + std::to_string(options.max_waiting) +
                                              " uploads are already waiting; retry shortly"));
      }
      const Answer a = answer->get();
      send_json(res, a.status, a.body);
    });
    http.Get("/api/v1/results", [this](const httplib::Request& req, httplib::Response& res) {
      const auto limit = parse_limit(req);
      if (!limit) return send_json(res, 400, error_body("limit must be a whole number of at least 1"));
      send_json(res, 200, {{"results", worklist(*limit)}});
    });
    // Any two path segments: the id and the name are checked here, not by the route, so the
    // upload ids, the node ids and the file names are each defined once.
    http.Get(R"(/api/v1/results/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1].str(), file = req.matches[2].str();
      const auto bytes = result_file(id, file);
      if (!bytes) return send_json(res, 404, error_body("no such result: it is unknown, expired, or has no " + file));
      if (file != "overlay.png")
        res.set_header("Content-Disposition", "attachment; filename=\"ptx-" + id + "-" + file + "\"");
      res.set_content(*bytes, content_type(file));
    });
  }

  // ?limit=N, 100 when absent; nullopt when it is not a positive whole number.
  static std::optional<std::size_t> parse_limit(const httplib::Request& req) {
    if (!req.has_param("limit")) return 100;
    const std::string text = req.get_param_value("limit");
    std::size_t limit = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (error != std::errc() || end != text.data() + text.size() || limit == 0) return std::nullopt;
    return limit;
  }

  // The uploads' and the node's results, newest first, at most limit.
  json worklist(std::size_t limit) {
    std::vector<WorklistEntry> entries = results.newest();
    if (spool) {
      auto node = spool->entries();
      entries.insert(entries.end(), std::make_move_iterator(node.begin()), std::make_move_iterator(node.end()));
    }
    sort_newest_first(entries);
    json list = json::array();
    for (std::size_t i = 0; i < std::min(limit, entries.size()); ++i) list.push_back(entry_json(entries[i]));
    return list;
  }

  // The bytes of a result's file: an upload's from memory, a node's from the spool.
  std::optional<std::string> result_file(const std::string& id, const std::string& name) {
    if (!dicomnet::is_instance_id(id)) return results.file(id, name);
    const auto path = spool ? spool->file(id, name) : std::nullopt;
    if (!path) return std::nullopt;
    try {
      return core::read_file(*path);
    } catch (const core::Error&) {
      return std::nullopt;  // listed but absent: as unknown
    }
  }

  static std::string content_type(const std::string& file) {
    const std::string extension = fs::path(file).extension().string();
    return extension == ".png" ? "image/png" : extension == ".txt" ? "text/plain" : "application/dicom";
  }
};

Server::Server(predict::Ensemble segmenter, predict::Ensemble classifier, ServeOptions options) {
  if (segmenter.empty()) throw core::UsageError("give at least one segmentation --checkpoint");
  impl_ = std::make_unique<Impl>(std::move(segmenter), std::move(classifier), std::move(options));
}

Server::~Server() { stop(); }

int Server::bind() {
  auto& o = impl_->options;
  if (o.port == 0) {
    o.port = impl_->http.bind_to_any_port(o.host);
    if (o.port <= 0) throw core::Error("cannot listen on " + o.host + ": no free port");
  } else if (!impl_->http.bind_to_port(o.host, o.port)) {
    throw core::Error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                      ": the port is in use or the address is not this machine's; choose another --port or --host");
  }
  return o.port;
}

void Server::run() { impl_->http.listen_after_bind(); }

void Server::stop() {
  if (impl_) impl_->http.stop();
}

}  // namespace ptx::serve
