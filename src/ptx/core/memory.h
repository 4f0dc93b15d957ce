// Keeping freed memory for reuse: a forward pass at 512-1024 px allocates and frees feature maps
// of tens to hundreds of MiB. glibc serves each of those with a fresh mmap and returns it with
// munmap, so every pass page-faults the same memory in again (about a quarter of a Python U-Net
// run's CPU time). Served from the heap instead and never trimmed, the freed blocks are reused.
#pragma once

namespace ptx::core {

// Makes glibc's malloc serve large blocks from the heap and keep freed memory (process-wide; call
// once at start-up, before the big allocations). A no-op on other C libraries.
void reuse_freed_memory();

}  // namespace ptx::core
