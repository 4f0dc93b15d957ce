// The worklist of `ptx serve`: the results of its own uploads and those `ptx node` leaves in its
// spool, one list newest first.
//
// The node's spool (written by src/ptx/dicomnet, read here only):
//   <spool>/done/<id>/result.json   the record, written atomically and last: a folder without it
//                                   is not finished
//   <spool>/done/<id>/overlay.png, mask.png, mask.rle.txt, seg.dcm, sc.dcm   its files, each when
//                                   the record's "files" lists it
// Nothing a record says becomes a path: only a folder name that is a node id and the fixed file
// names above are joined to the spool folder. source.dcm (the received instance, with the
// patient's name) is never offered.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptx::serve {

// True for the files a result may offer: overlay.png, mask.png, mask.rle.txt, seg.dcm, sc.dcm.
bool is_result_file(std::string_view name);

struct WorklistEntry {
  std::string id;
  std::string source;  // "upload" (this server) or "node" (the spool)
  std::string time;    // when the result was made (a record's "finished"), UTC as core::utc_now()
  std::string status;  // "positive", "negative", "skipped" or "error"
  std::string reason;  // why, for skipped and error
  std::optional<double> probability, area_mm2;
  std::optional<long long> area_pixels;
  int width = 0, height = 0;
  std::vector<std::string> files;  // the downloadable ones (is_result_file)
};

// {"overlay": "/api/v1/results/<id>/overlay.png", "mask", "rle", "seg", "sc"}: one per file.
nlohmann::json result_links(const std::string& id, const std::vector<std::string>& files);

// {"id", "source", "time", "status", "reason", "probability", "area_pixels", "area_mm2" (null when
// unknown), "width", "height", "links"}.
nlohmann::json entry_json(const WorklistEntry& entry);

// Latest time first; entries of the same second keep their order.
void sort_newest_first(std::vector<WorklistEntry>& entries);

// The entry of a node's result.json, or nullopt when the text is not a well-formed record of `id`.
std::optional<WorklistEntry> parse_node_record(const std::string& id, const std::string& text);

// The finished results of a spool, each record parsed once until its result.json changes.
// Thread-safe.
class SpoolReader {
 public:
  explicit SpoolReader(const std::filesystem::path& spool);

  // Every finished, well-formed result, newest id first; none when the folder is absent.
  std::vector<WorklistEntry> entries();
  // The path of a result's file, or nullopt unless id is a finished result whose record lists it.
  std::optional<std::filesystem::path> file(const std::string& id, const std::string& name);

 private:
  struct Record {
    std::filesystem::file_time_type modified;
    std::uintmax_t size;
    std::optional<WorklistEntry> entry;  // nullopt: malformed (remembered, so not parsed again)
  };
  // The record of done/<id>, from the cache while its result.json is unchanged; nullopt when it
  // has none yet or it cannot be read. Called with mutex_ held.
  std::optional<Record> load(const std::string& id);

  const std::filesystem::path done_;
  std::mutex mutex_;
  std::map<std::string, Record> cache_;
};

}  // namespace ptx::serve
