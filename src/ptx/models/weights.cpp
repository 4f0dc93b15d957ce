#include "ptx/models/weights.h"

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "ptx/core/error.h"

namespace ptx::models {

namespace {

std::string shape(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

std::string first_few(const std::vector<std::string>& names, std::size_t n = 5) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < n; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > n) s += ", ... and " + std::to_string(names.size() - n) + " more";
  return s;
}

}  // namespace

NamedTensors read_tensor_dict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::Error(path + ": cannot open the weights file");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    throw core::Error(path + ": not a zip-format torch.save file (" + e.what_without_backtrace() + ")");
  }
  if (!value.isGenericDict())
    throw core::Error(path + ": expected a plain dict of tensors; a state_dict is an OrderedDict, save "
                             "{k: v for k, v in sd.items()} instead");
  NamedTensors out;
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString()) throw core::Error(path + ": a dict key is not a string");
    const auto& key = kv.key().toStringRef();
    if (!kv.value().isTensor()) throw core::Error(path + ": '" + key + "' is not a tensor");
    out.emplace(key, kv.value().toTensor());
  }
  return out;
}

void write_tensor_dict(const std::string& path, const NamedTensors& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [k, v] : tensors) dict.insert(k, v);
  const auto bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw core::Error(path + ": cannot write the weights file");
}

std::string LoadReport::describe() const { return std::to_string(loaded) + " tensors loaded" + problems(); }

std::string LoadReport::problems() const {
  std::string s;
  if (!missing.empty()) s += "; " + std::to_string(missing.size()) + " missing: " + first_few(missing);
  if (!unexpected.empty()) s += "; " + std::to_string(unexpected.size()) + " unexpected: " + first_few(unexpected);
  if (!mismatched.empty()) s += "; " + std::to_string(mismatched.size()) + " mis-shaped: " + first_few(mismatched);
  return s;
}

LoadReport load_named_tensors(torch::nn::Module& module, const NamedTensors& tensors, bool strict) {
  LoadReport report;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (destination, source)
  std::set<std::string> used;
  auto visit = [&](const torch::OrderedDict<std::string, torch::Tensor>& targets) {
    for (const auto& item : targets) {
      const auto it = tensors.find(item.key());
      if (it == tensors.end()) {
        report.missing.push_back(item.key());
        continue;
      }
      used.insert(item.key());
      if (it->second.sizes() != item.value().sizes())
        report.mismatched.push_back(item.key() + ": file " + shape(it->second) + " vs model " + shape(item.value()));
      else
        copies.emplace_back(item.value(), it->second);
    }
  };
  visit(module.named_parameters());
  visit(module.named_buffers());
  for (const auto& kv : tensors)
    if (!used.count(kv.first)) report.unexpected.push_back(kv.first);
  if (strict && !report.complete()) {
    throw core::Error("strict weight loading failed, nothing was loaded" + report.problems() +
                      " (load non-strictly to take what matches)");
  }
  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
  report.loaded = copies.size();
  return report;
}

torch::Tensor adapt_input_channels(const torch::Tensor& weight, int64_t in_channels) {
  if (weight.dim() != 4) throw core::Error("adapt_input_channels: expected a 4-d convolution weight, got " + shape(weight));
  if (in_channels < 1) throw core::Error("adapt_input_channels: in_channels must be >= 1, got " + std::to_string(in_channels));
  const int64_t from = weight.size(1);
  if (in_channels == from) return weight;
  if (in_channels == 1) return weight.sum(1, /*keepdim=*/true);
  auto index = torch::arange(in_channels, torch::dtype(torch::kLong).device(weight.device())).remainder(from);
  return weight.index_select(1, index) * (static_cast<double>(from) / static_cast<double>(in_channels));
}

NamedTensors named_tensors(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& p : module.named_parameters()) out.emplace(p.key(), p.value().detach());
  for (const auto& b : module.named_buffers()) out.emplace(b.key(), b.value().detach());
  return out;
}

}  // namespace ptx::models
