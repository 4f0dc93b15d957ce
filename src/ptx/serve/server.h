// `ptx serve`: a web page and an HTTP API around loaded models (cpp-httplib).
//
//   GET  /                         the page: drop a DICOM or PNG, see the overlay and the numbers
//   GET  /api/v1/health            {"status": "ok", "queue": {...}}
//   GET  /api/v1/model             the models' specs, checkpoint SHA-256, input, triplet, TTA
//   POST /api/v1/predict           body: the DICOM/PNG/JPEG file itself; answer: probability,
//                                  area, RLE, metadata and links to the result's files
//   GET  /api/v1/results[?limit=N]  the worklist, newest first: the uploads' results and, with a
//                                  spool, those of `ptx node` (src/ptx/serve/worklist.h)
//   GET  /api/v1/results/<id>/overlay.png | mask.png | mask.rle.txt | seg.dcm | sc.dcm
//
// Uploads are untrusted: their kind comes from their bytes (415 otherwise), over the size limit
// they get 413, an undecodable file 422; nothing an upload names is used as a path (a DICOM is
// parsed from a file the server names in its own private folder). Inference runs on a WorkQueue:
// a full line answers 503. The models are shared read-only by the workers. Results are kept in
// memory for the last `kept_results` predictions under random ids; the node's are read from its
// spool folder, which this server only reads (no state is shared between the two processes).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ptx/predict/ensemble.h"
#include "ptx/predict/predict_image.h"

namespace ptx::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;                  // 0: any free port (see Server::bind)
  predict::ImagePredictionOptions image;
  std::size_t max_upload_bytes = std::size_t(64) << 20;
  int workers = 1;                  // inferences at once
  std::size_t max_waiting = 8;      // uploads waiting for a worker before 503
  int http_threads = 16;            // connections served at once
  std::size_t kept_results = 64;    // results downloadable afterwards
  std::string spool;                // ptx node's spool folder, whose results join the worklist ("": none)
  std::vector<std::string> checkpoints, classifiers;  // the files the ensembles were loaded from
};

class Server {
 public:
  // The server keeps the ensembles (they share their models: copying one is cheap).
  Server(predict::Ensemble segmenter, predict::Ensemble classifier, ServeOptions options);
  ~Server();  // stops and waits
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: a free port) and returns the port. core::Error when it cannot.
  int bind();
  // Serves until stop() (from another thread or a signal handler's thread).
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptx::serve
