// Text files compiled into ptx (cmake/embed_text.cmake), so the executable needs no install path.
#pragma once

namespace ptx::embedded {
extern const char kServePage[];   // src/ptx/serve/page.html: the page `ptx serve` answers at /
extern const char kDemoConfig[];  // configs/demo.yaml: the model `ptx demo` trains
}  // namespace ptx::embedded
