// Messages for the person at the terminal, on stderr. Never pass patient data (names, ids,
// birth dates) here: logs travel further than the images do.
#pragma once
#include <string>

namespace ptx::core {

void set_quiet(bool quiet);   // suppresses info(), not warn()
void info(const std::string& message);
void warn(const std::string& message);

}  // namespace ptx::core
