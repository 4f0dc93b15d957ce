#include "ptx/io/png_encode.h"

#include <libdeflate.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace ptx::io {

namespace {

void put_u32(std::string& out, uint32_t v) {
  const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

// A chunk: length, type, data, CRC-32 of type and data.
void put_chunk(std::string& out, const char type[4], const char* data, std::size_t size) {
  put_u32(out, static_cast<uint32_t>(size));
  const std::size_t crc_from = out.size();
  out.append(type, 4);
  out.append(data, size);
  put_u32(out, libdeflate_crc32(0, out.data() + crc_from, size + 4));
}

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

}  // namespace

std::string encode_png_gray(const cv::Mat& image, int level) {
  if (image.type() != CV_8UC1 && image.type() != CV_16UC1) throw std::invalid_argument("encode_png_gray: CV_8UC1 or CV_16UC1 only");
  const int bytes_per_pixel = image.elemSize();
  const std::size_t row_bytes = std::size_t(image.cols) * bytes_per_pixel;

  // Filtered scanlines: a filter-type byte (1 = Sub) then each byte minus the byte one pixel left.
  // 16-bit samples are stored big-endian.
  std::string raw((row_bytes + 1) * image.rows, '\0');
  std::vector<uint8_t> line(row_bytes);
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* src = image.ptr<uint8_t>(y);
    if (bytes_per_pixel == 2) {
      for (int x = 0; x < image.cols; ++x) {
        line[2 * x] = src[2 * x + 1];
        line[2 * x + 1] = src[2 * x];
      }
      src = line.data();
    }
    uint8_t* dst = reinterpret_cast<uint8_t*>(&raw[y * (row_bytes + 1)]);
    dst[0] = 1;
    std::memcpy(dst + 1, src, bytes_per_pixel);
    for (std::size_t i = bytes_per_pixel; i < row_bytes; ++i) dst[1 + i] = uint8_t(src[i] - src[i - bytes_per_pixel]);
  }

  // One compressor per thread: creating one costs more than compressing a small mask.
  thread_local std::unique_ptr<libdeflate_compressor, CompressorDeleter> compressor;
  thread_local int compressor_level = -1;
  if (!compressor || compressor_level != level) {
    compressor.reset(libdeflate_alloc_compressor(level));
    compressor_level = level;
    if (!compressor) throw std::runtime_error("libdeflate: cannot create a compressor");
  }
  std::string zdata(libdeflate_zlib_compress_bound(compressor.get(), raw.size()), '\0');
  const std::size_t zsize = libdeflate_zlib_compress(compressor.get(), raw.data(), raw.size(), zdata.data(), zdata.size());
  if (!zsize) throw std::runtime_error("libdeflate: compression failed");

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(ihdr, image.cols);
  put_u32(ihdr, image.rows);
  ihdr += char(bytes_per_pixel * 8);  // bit depth
  ihdr += char(0);                     // colour type: greyscale
  ihdr.append(3, '\0');                // deflate, adaptive filtering, no interlace
  put_chunk(png, "IHDR", ihdr.data(), ihdr.size());
  put_chunk(png, "IDAT", zdata.data(), zsize);
  put_chunk(png, "IEND", nullptr, 0);
  return png;
}

}  // namespace ptx::io
