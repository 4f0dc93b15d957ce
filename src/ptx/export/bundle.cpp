#include "ptx/export/bundle.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/sha256.h"
#include "ptx/core/utc_time.h"
#include "ptx/export/zip_records.h"
#include "ptx/models/checkpoint.h"
#include "ptx/post/triplet.h"
#include "ptx/predict/ensemble.h"
#include "ptx/version.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ptx::exports {

namespace {

constexpr const char* kFormat = "ptx-bundle";
constexpr int kVersion = 1;
constexpr const char* kCard = "card.yaml";
constexpr const char* kManifest = "manifest.json";

const char* normalization_name(data::Normalization n) { return n == data::Normalization::none ? "none" : "imagenet"; }

// One checkpoint as a member: its bytes and manifest entry. Loading it checks that it is a ptx
// checkpoint of the right role and gives the spec and input settings the manifest records.
std::pair<std::string, json> member(const std::string& path, const std::string& role, std::size_t index, double weight,
                                    std::string* triplet) {
  const auto checkpoint = models::load_checkpoint(path);
  const bool classifier = checkpoint.spec.arch == "classifier";
  if (classifier != (role == "classifier"))
    throw core::UsageError(path + ": a " + (classifier ? "classifier" : "segmentation") + " checkpoint given as --" +
                           (role == "classifier" ? "classifier" : "checkpoint"));
  const auto settings = predict::checkpoint_settings(checkpoint, path);
  if (triplet && triplet->empty() && settings.has_triplet) *triplet = settings.triplet.str();
  std::string bytes = core::read_file(path);
  json entry{{"name", "members/" + role + "-" + std::to_string(index) + ".ckpt"},
             {"role", role},
             {"source", fs::path(path).filename().string()},
             {"weight", weight},
             {"sha256", core::sha256_hex(bytes)},
             {"spec", checkpoint.spec},
             {"input", {{"size", settings.input.size},
                        {"channels", settings.input.channels},
                        {"normalize", normalization_name(settings.input.normalize)}}}};
  return {std::move(bytes), std::move(entry)};
}

std::string card_text(const std::string& card_path) {
  if (card_path.empty()) return default_card();
  std::string text = core::read_file(card_path);
  try {
    if (!YAML::Load(text).IsMap()) throw core::Error(card_path + ": a model card must be a YAML mapping (key: value)");
  } catch (const YAML::Exception& e) {
    throw core::Error(card_path + ": not valid YAML (" + e.msg + " at line " + std::to_string(e.mark.line + 1) + ")");
  }
  return text;
}

// The manifest's fields a loader needs, checked: a faulty one is an error naming the bundle.
void parse_manifest(Bundle& b) {
  const std::string where = b.path + ": manifest.json";
  try {
    const json& m = b.manifest;
    if (m.value("format", "") != kFormat) throw core::Error(where + ": not a ptx bundle manifest");
    if (m.value("version", 0) != kVersion)
      throw core::Error(where + ": bundle version " + m.value("version", json()).dump() + " (this ptx reads version " +
                        std::to_string(kVersion) + "); use the ptx that made it");
    for (const auto& e : m.at("members")) {
      BundleMember member{e.at("name"), e.at("role"), e.value("source", ""), e.at("sha256"), e.value("weight", 1.0)};
      if (member.role != "segmenter" && member.role != "classifier")
        throw core::Error(where + ": member " + member.name + " has role '" + member.role + "' (segmenter or classifier)");
      b.members.push_back(std::move(member));
    }
    if (m.contains("gate")) b.gate = m["gate"].get<double>();
    if (m.contains("triplet") && !m["triplet"].is_null())
      b.triplet = post::Triplet::parse(m["triplet"].get<std::string>(), where + ": triplet").str();
    b.tta = m.value("tta", "hflip");
    if (b.tta != "hflip" && b.tta != "none") throw core::Error(where + ": tta '" + b.tta + "' (hflip or none)");
  } catch (const json::exception& e) {
    throw core::Error(where + ": malformed (" + std::string(e.what()) + "); re-create the bundle");
  }
}

// The record, or an error naming the bundle and the member.
const std::string& record(const ZipRecords& records, const std::string& path, const std::string& name) {
  const auto it = records.find(name);
  if (it == records.end()) throw core::Error(path + ": member " + name + " is missing; re-create the bundle");
  return it->second;
}

void verify(const std::string& path, const std::string& name, const std::string& bytes, const std::string& sha256) {
  if (core::sha256_hex(bytes) != sha256)
    throw core::Error(path + ": member " + name + " does not match its SHA-256 in manifest.json (changed or corrupt); "
                             "re-create the bundle from the original checkpoints");
}

}  // namespace

std::string default_card() {
  return "# Model card of a ptx bundle: fill in the empty fields before sharing the model.\n"
         "intended_use: research use only, not a medical device\n"
         "task: pneumothorax segmentation of frontal chest radiographs\n"
         "training_data: \"\"\n"
         "validation: \"\"\n"
         "limitations: \"\"\n";
}

json create_bundle(const BundleInput& in, const std::string& out) {
  if (in.segmenters.empty()) throw core::UsageError("give at least one --checkpoint");
  if (!in.weights.empty() && in.weights.size() != in.segmenters.size())
    throw core::UsageError("give one --weight per --checkpoint (" + std::to_string(in.segmenters.size()) +
                           " checkpoints, " + std::to_string(in.weights.size()) + " weights)");
  for (const double w : in.weights)
    if (!(w > 0)) throw core::UsageError("--weight must be > 0, got " + std::to_string(w));
  std::string triplet = in.triplet;
  if (!triplet.empty()) {
    try {
      triplet = post::Triplet::parse(triplet).str();
    } catch (const core::Error& e) {
      throw core::UsageError(e.what());
    }
  }
  ZipRecords records;
  json members = json::array();
  for (std::size_t i = 0; i < in.segmenters.size(); ++i) {
    auto [bytes, entry] = member(in.segmenters[i], "segmenter", i, in.weights.empty() ? 1.0 : in.weights[i], &triplet);
    records[entry["name"]] = std::move(bytes);
    members.push_back(std::move(entry));
  }
  for (std::size_t i = 0; i < in.classifiers.size(); ++i) {
    auto [bytes, entry] = member(in.classifiers[i], "classifier", i, 1.0, nullptr);
    records[entry["name"]] = std::move(bytes);
    members.push_back(std::move(entry));
  }
  records[kCard] = card_text(in.card_path);
  json manifest{{"format", kFormat},
                {"version", kVersion},
                {"ptx_version", ptx::kVersion},
                {"created", core::utc_now()},
                {"members", std::move(members)},
                {"card", {{"name", kCard}, {"sha256", core::sha256_hex(records[kCard])}}},
                {"triplet", triplet.empty() ? json() : json(triplet)},
                {"tta", in.tta}};
  if (!in.classifiers.empty()) manifest["gate"] = in.gate;
  records[kManifest] = manifest.dump(2) + "\n";
  write_zip_records(out, records);
  return manifest;
}

Bundle read_bundle(const std::string& path) {
  const ZipRecords records = read_zip_records(path);
  Bundle b;
  b.path = path;
  try {
    b.manifest = json::parse(record(records, path, kManifest));
  } catch (const json::exception& e) {
    throw core::Error(path + ": manifest.json is not JSON (" + std::string(e.what()) + "); re-create the bundle");
  }
  parse_manifest(b);
  for (const auto& m : b.members) {
    const std::string& bytes = record(records, path, m.name);
    verify(path, m.name, bytes, m.sha256);
    b.member_bytes.push_back(bytes);
  }
  const json card = b.manifest.value("card", json::object());
  b.card = record(records, path, card.value("name", kCard));
  verify(path, card.value("name", kCard), b.card, card.value("sha256", ""));
  return b;
}

ExtractedBundle::ExtractedBundle(const Bundle& bundle) {
  std::string dir = (fs::temp_directory_path() / "ptx-bundle-XXXXXX").string();
  if (!mkdtemp(dir.data()))  // mkdtemp makes the folder readable by its owner only
    throw core::Error(dir + ": cannot create a temporary folder for " + bundle.path + "; set TMPDIR to a writable folder");
  dir_ = dir;
  try {
    for (std::size_t i = 0; i < bundle.members.size(); ++i) {
      const fs::path file = dir_ / fs::path(bundle.members[i].name).filename();
      core::write_file_atomic(file, bundle.member_bytes[i]);
      files_.emplace_back(bundle.members[i].role, file.string());
    }
  } catch (...) {
    std::error_code ec;  // the destructor does not run for a constructor that throws
    fs::remove_all(dir_, ec);
    throw;
  }
}

ExtractedBundle::~ExtractedBundle() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::vector<std::string> ExtractedBundle::paths(const std::string& role) const {
  std::vector<std::string> out;
  for (const auto& [r, path] : files_)
    if (r == role) out.push_back(path);
  return out;
}

}  // namespace ptx::exports
