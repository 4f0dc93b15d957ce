// Keeping freed memory for reuse: a forward pass at 512-1024 px allocates and frees feature maps
// of tens to hundreds of MiB. glibc serves each of those with a fresh mmap and returns it with
// munmap, so every pass page-faults the same memory in again (about a quarter of a Python U-Net
// run's CPU time). Served from the heap instead and never trimmed, the freed blocks are reused.
#pragma once

namespace ptx::core {

// Makes glibc's malloc serve large blocks from the heap and keep freed memory (process-wide; call
// once at start-up, before the big allocations). A no-op on other C libraries, and when the
// environment sets PTX_DEFAULT_MALLOC. The price is memory: the heap keeps its high-water mark
// and fragments (U-Net ResNet34 at 1024: 1.4 instead of 0.9 GiB peak; see bench/README.md).
void reuse_freed_memory();

}  // namespace ptx::core
