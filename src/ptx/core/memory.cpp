#include "ptx/core/memory.h"

#include <cstdlib>
#include <fstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ptx::core {

void reuse_freed_memory() {
#if defined(__GLIBC__)
  if (std::getenv("PTX_DEFAULT_MALLOC")) return;  // the user's way out of the memory trade-off
  mallopt(M_MMAP_MAX, 0);               // no mmap'd blocks: everything from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   // keep up to 1 GiB of free heap top instead of returning it
  mallopt(M_TOP_PAD, 64 << 20);         // grow the heap in 64 MiB steps
#endif
}

void return_freed_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

double peak_resident_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmHWM:  123456 kB"
  return 0;
}

}  // namespace ptx::core
