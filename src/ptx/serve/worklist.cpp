#include "ptx/serve/worklist.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/dicomnet/instance_record.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ptx::serve {

namespace {

struct ResultFile {
  const char* name;
  const char* link;  // its key in "links"
};
constexpr std::array<ResultFile, 5> kResultFiles{{{"overlay.png", "overlay"},
                                                  {"mask.png", "mask"},
                                                  {"mask.rle.txt", "rle"},
                                                  {"seg.dcm", "seg"},
                                                  {"sc.dcm", "sc"}}};

bool matches(std::string_view text, const std::regex& pattern) {
  return std::regex_match(text.begin(), text.end(), pattern);
}

// The node's times, as core::utc_now() writes them: entries sort by comparing them as text.
bool is_utc_time(const std::string& time) {
  static const std::regex pattern("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z");
  return matches(time, pattern);
}

template <class T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

bool is_result_file(std::string_view name) {
  return std::any_of(kResultFiles.begin(), kResultFiles.end(), [&](const ResultFile& f) { return name == f.name; });
}

json result_links(const std::string& id, const std::vector<std::string>& files) {
  json links = json::object();
  for (const auto& f : kResultFiles)
    if (std::find(files.begin(), files.end(), f.name) != files.end())
      links[f.link] = "/api/v1/results/" + id + "/" + f.name;
  return links;
}

json entry_json(const WorklistEntry& e) {
  return {{"id", e.id},
          {"source", e.source},
          {"time", e.time},
          {"status", e.status},
          {"reason", e.reason},
          {"probability", or_null(e.probability)},
          {"area_pixels", or_null(e.area_pixels)},
          {"area_mm2", or_null(e.area_mm2)},
          {"width", e.width},
          {"height", e.height},
          {"links", result_links(e.id, e.files)}};
}

void sort_newest_first(std::vector<WorklistEntry>& entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const WorklistEntry& a, const WorklistEntry& b) { return a.time > b.time; });
}

std::optional<WorklistEntry> parse_node_record(const std::string& id, const std::string& text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  dicomnet::InstanceRecord r;
  try {
    r = dicomnet::record_from_json(j, id);
  } catch (const core::Error&) {  // a missing field or one of the wrong type
    return std::nullopt;
  }
  const bool known_status = r.status == "positive" || r.status == "negative" || r.status == "skipped" || r.status == "error";
  if (r.id != id || !known_status || !is_utc_time(r.finished)) return std::nullopt;
  WorklistEntry e;
  e.id = r.id;
  e.source = "node";
  e.time = r.finished;
  e.status = r.status;
  e.reason = r.reason;
  e.probability = r.probability;
  if (r.area_pixels) e.area_pixels = *r.area_pixels;
  e.area_mm2 = r.area_mm2;
  e.width = r.width;
  e.height = r.height;
  // Only the known names: anything else a record lists ("source.dcm", "../x") is never offered.
  for (const auto& f : r.files)
    if (is_result_file(f)) e.files.push_back(f);
  return e;
}

SpoolReader::SpoolReader(const fs::path& spool) : done_(spool / "done") {}

std::optional<SpoolReader::Record> SpoolReader::load(const std::string& id) {
  const fs::path path = done_ / id / "result.json";
  std::error_code time_error, size_error;
  const auto modified = fs::last_write_time(path, time_error);
  const auto size = fs::file_size(path, size_error);
  if (time_error || size_error) return std::nullopt;  // not finished yet
  // The record is replaced atomically, so a new one has a new time; the size too tells apart two
  // written within one tick of the file system's clock.
  const auto cached = cache_.find(id);
  if (cached != cache_.end() && cached->second.modified == modified && cached->second.size == size) return cached->second;
  try {
    return Record{modified, size, parse_node_record(id, core::read_file(path))};
  } catch (const core::Error&) {
    return std::nullopt;  // removed meanwhile, or unreadable: tried again next time
  }
}

std::vector<WorklistEntry> SpoolReader::entries() {
  std::lock_guard<std::mutex> lock(mutex_);
  // Rebuilt from the folder each time: the mtime of done/ alone would miss a result.json written
  // into a folder that already existed.
  std::map<std::string, Record> found;
  std::error_code ec;
  for (fs::directory_iterator it(done_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string id = it->path().filename().string();
    if (!dicomnet::is_instance_id(id)) continue;
    if (auto record = load(id)) found.emplace(id, std::move(*record));
  }
  cache_ = std::move(found);
  std::vector<WorklistEntry> entries;
  for (auto it = cache_.rbegin(); it != cache_.rend(); ++it)
    if (it->second.entry) entries.push_back(*it->second.entry);
  return entries;
}

std::optional<fs::path> SpoolReader::file(const std::string& id, const std::string& name) {
  if (!dicomnet::is_instance_id(id) || !is_result_file(name)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto record = load(id);
  if (!record) return std::nullopt;
  cache_.insert_or_assign(id, *record);
  const auto& files = record->entry ? record->entry->files : std::vector<std::string>{};
  if (std::find(files.begin(), files.end(), name) == files.end()) return std::nullopt;
  return done_ / id / name;
}

}  // namespace ptx::serve
