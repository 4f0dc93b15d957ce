#include "ptx/dicomnet/study_batcher.h"

#include <algorithm>

namespace ptx::dicomnet {

void StudyBatcher::add(const std::string& study_instance_uid, const std::string& id, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, fresh] = studies_.try_emplace(study_instance_uid);
  if (fresh) {
    it->second.batch.study_instance_uid = study_instance_uid;
    it->second.first = now;
  }
  it->second.batch.ids.push_back(id);
  it->second.last = now;
}

std::vector<StudyBatch> StudyBatcher::take_released(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Study> released;
  for (auto it = studies_.begin(); it != studies_.end();) {
    if (now - it->second.last >= quiet_) {
      released.push_back(std::move(it->second));
      it = studies_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(released.begin(), released.end(), [](const Study& a, const Study& b) { return a.first < b.first; });
  std::vector<StudyBatch> out;
  for (auto& s : released) out.push_back(std::move(s.batch));
  return out;
}

std::size_t StudyBatcher::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t n = 0;
  for (const auto& [uid, s] : studies_) n += s.batch.ids.size();
  return n;
}

}  // namespace ptx::dicomnet
