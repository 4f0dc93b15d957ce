// Instances grouped by study and released together once the study has been quiet for a while, as
// MONAI Deploy's gateway does: a modality sends a study as a burst of C-STOREs, and the node should
// start on it only when the burst is over. Thread-safe: the SCP adds, the processor takes.
#pragma once
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ptx::dicomnet {

struct StudyBatch {
  std::string study_instance_uid;
  std::vector<std::string> ids;  // spool ids, in arrival order
};

class StudyBatcher {
 public:
  using Clock = std::chrono::steady_clock;
  explicit StudyBatcher(std::chrono::milliseconds quiet) : quiet_(quiet) {}

  void add(const std::string& study_instance_uid, const std::string& id, Clock::time_point now = Clock::now());
  // The studies with no new instance for the quiet time, oldest first; they leave the batcher.
  std::vector<StudyBatch> take_released(Clock::time_point now = Clock::now());
  // Instances still waiting.
  std::size_t waiting() const;

 private:
  struct Study {
    StudyBatch batch;
    Clock::time_point first, last;
  };
  std::chrono::milliseconds quiet_;
  mutable std::mutex mutex_;
  std::map<std::string, Study> studies_;
};

}  // namespace ptx::dicomnet
