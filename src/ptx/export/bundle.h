// Model bundles (.ptxb): one file that is "the model", as nnU-Net's exported model zips and
// MONAI's bundles are. A zip (export/zip_records.h) holding
//   members/segmenter-<i>.ckpt, members/classifier-<i>.ckpt   the checkpoints, byte for byte
//   card.yaml                                                   the model card
//   manifest.json   {"format": "ptx-bundle", "version": 1, "ptx_version", "created",
//                    "members": [{"name", "role": "segmenter"|"classifier", "source", "weight",
//                                 "sha256", "spec", "input": {"size", "channels", "normalize"}}],
//                    "card": {"name", "sha256"}, "gate" (with classifiers), "triplet" (or null), "tta"}
// Every member's SHA-256 is checked whenever a bundle is read: a changed member is an error.
// (The namespace is ptx::exports because `export` is a C++ keyword.)
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ptx::exports {

struct BundleInput {
  std::vector<std::string> segmenters;
  std::vector<double> weights;  // one per segmenter, > 0; empty: 1 each
  std::vector<std::string> classifiers;
  double gate = 0.5;
  std::string triplet;  // "": the first segmenter's validated triplet, if it has one
  std::string tta = "hflip";
  std::string card_path;  // a YAML model card; "": default_card()
};

// The card written when none is given: research use only, the fields to fill in left empty.
std::string default_card();

// Checks the inputs (usage mistakes are core::UsageError) and writes the bundle atomically.
// Returns the manifest written.
nlohmann::json create_bundle(const BundleInput& in, const std::string& out);

struct BundleMember {
  std::string name, role, source, sha256;
  double weight = 1;
};

struct Bundle {
  std::string path;
  nlohmann::json manifest;
  std::string card;
  std::vector<BundleMember> members;    // in manifest order: segmenters first
  std::vector<std::string> member_bytes;  // members[i]'s bytes
  std::optional<double> gate;
  std::string triplet, tta;
};

// Reads a bundle and verifies every hash; any fault is a core::Error naming the file (and the member).
Bundle read_bundle(const std::string& path);

// A bundle's checkpoints written to a private temporary folder (mode 0700) for the checkpoint
// loader, which reads files; the folder is removed at destruction.
class ExtractedBundle {
 public:
  explicit ExtractedBundle(const Bundle& bundle);
  ~ExtractedBundle();
  ExtractedBundle(const ExtractedBundle&) = delete;
  ExtractedBundle& operator=(const ExtractedBundle&) = delete;

  std::vector<std::string> paths(const std::string& role) const;  // the extracted files of a role, in order

 private:
  std::filesystem::path dir_;
  std::vector<std::pair<std::string, std::string>> files_;  // role, path
};

}  // namespace ptx::exports
