// Precompiled header of the ptx library: the heavy, stable third-party headers.
#pragma once
#include <torch/torch.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <string>
#include <vector>
