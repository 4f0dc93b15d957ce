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

// Returns the free memory glibc's heap keeps to the system (malloc_trim): for the few places where
// a burst of allocations is over and will not come back (a model loaded), so the
// memory kept by reuse_freed_memory() is not paid twice. A no-op on other C libraries.
void return_freed_memory();

// The most memory this process has held resident since it started (VmHWM), MiB; 0 where the
// system does not say. Unlike getrusage's maxrss it starts afresh at exec: a child forked from a
// large process (a benchmark running the command) reports its own peak, not its parent's.
double peak_resident_mib();

}  // namespace ptx::core
