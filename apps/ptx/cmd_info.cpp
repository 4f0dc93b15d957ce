// ptx info FILE...: DICOM metadata, with a warning for files that are not chest radiographs. A file
// whose pixels are incomplete (checked from lengths, not decoded) still shows its metadata but
// counts as failed.
#include <cstdio>
#include <iostream>
#include <memory>

#include "command.h"
#include "ptx/core/error.h"
#include "ptx/io/dicom.h"
#include "ptx/io/dicom_json.h"

namespace ptx::app {

void add_info(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("info", "Print the metadata of DICOM files and flag files that are not chest radiographs");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("files", *files, "DICOM files")->required();
  cmd->callback([files, &g] {
    nlohmann::json out = nlohmann::json::array();
    std::size_t failed = 0;
    for (const std::string& path : *files) {
      try {
        const io::DicomCheck check = io::check_dicom(path);
        const io::DicomMeta& meta = check.meta;
        const auto warnings = io::chest_radiograph_warnings(meta);
        if (!check.pixel_problem.empty()) ++failed;
        if (g.json) {
          nlohmann::json j = io::to_json(meta);
          j["path"] = path;
          j["warnings"] = warnings;
          j["pixels_readable"] = check.pixel_problem.empty();
          if (!check.pixel_problem.empty()) j["pixel_problem"] = check.pixel_problem;
          out.push_back(j);
          continue;
        }
        nlohmann::json j = io::to_json(meta);
        std::printf("%s\n", path.c_str());
        for (auto& [key, value] : j.items())
          std::printf("  %-28s %s\n", key.c_str(), value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
        for (const auto& w : warnings) std::fprintf(stderr, "warning: %s: %s\n", path.c_str(), w.c_str());
        if (!check.pixel_problem.empty())
          std::fprintf(stderr, "warning: %s: pixels unreadable: %s\n", path.c_str(), check.pixel_problem.c_str());
      } catch (const core::Error& e) {
        ++failed;
        if (g.json) out.push_back({{"path", path}, {"error", e.what()}});
        else std::fprintf(stderr, "error: %s\n", e.what());
      }
    }
    if (g.json) std::cout << nlohmann::json{{"files", out}}.dump(2) << "\n";
    if (failed) throw core::Error(std::to_string(failed) + " of " + std::to_string(files->size()) + " file(s) could not be read (see above)");
  });
}

}  // namespace ptx::app
