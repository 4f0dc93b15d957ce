#include "ptx/io/dicom_write.h"

#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"

namespace ptx::io {

namespace {

void register_encoders() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never replace the SOP Instance UID on lossy compression (ImageIds must stay what we wrote),
    // and encode the stored values as they are: with pUsePixelValues (the last argument) left at
    // its default, DCMTK shifts 8-bit pixels so the darkest becomes 0 and records no rescale.
    DJEncoderRegistration::registerCodecs(ECC_lossyYCbCr, EUC_never, OFFalse, 0, 0, 0, OFTrue, ESS_422, OFTrue,
                                          OFFalse, 0, 0, 0.0, 0.0, 0, 0, 0, 0, OFFalse);
    DJLSEncoderRegistration::registerCodecs();
    DcmRLEEncoderRegistration::registerCodecs();
  });
}

E_TransferSyntax transfer_syntax(DicomEncoding e) {
  switch (e) {
    case DicomEncoding::ImplicitLittle: return EXS_LittleEndianImplicit;
    case DicomEncoding::ExplicitLittle: return EXS_LittleEndianExplicit;
    case DicomEncoding::ExplicitBig: return EXS_BigEndianExplicit;
    case DicomEncoding::JpegBaseline: return EXS_JPEGProcess1;
    case DicomEncoding::JpegLsLossless: return EXS_JPEGLSLossless;
    case DicomEncoding::RleLossless: return EXS_RLELossless;
  }
  return EXS_LittleEndianExplicit;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void check(const OFCondition& c, const std::string& path, const char* what) {
  if (c.bad()) throw core::Error(core::at(path) + "cannot write DICOM (" + what + ": " + c.text() + ")");
}

}  // namespace

void write_dicom(const std::string& path, const cv::Mat& pixels, const DicomMeta& meta, const DicomWriteOptions& options) {
  if (pixels.channels() != 1 || (pixels.depth() != CV_8U && pixels.depth() != CV_16U))
    throw core::Error(core::at(path) + "write_dicom needs an 8- or 16-bit single-channel image");
  const bool eight = pixels.depth() == CV_8U;
  if (options.encoding == DicomEncoding::JpegBaseline && !eight)
    throw core::Error(core::at(path) + "JPEG Baseline holds 8-bit images only; use JPEG-LS for 16-bit");
  register_encoders();

  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  const std::string modality = meta.modality.empty() ? "CR" : meta.modality;
  const char* sop_class = modality == "DX" ? UID_DigitalXRayImageStorageForPresentation
                        : modality == "CR" ? UID_ComputedRadiographyImageStorage
                                           : UID_SecondaryCaptureImageStorage;
  auto put = [&](const DcmTagKey& tag, const std::string& value) {
    if (!value.empty()) check(ds.putAndInsertString(tag, value.c_str()), path, "header");
  };
  put(DCM_SOPClassUID, meta.sop_class_uid.empty() ? sop_class : meta.sop_class_uid);
  put(DCM_SOPInstanceUID, meta.sop_instance_uid);
  put(DCM_StudyInstanceUID, meta.study_instance_uid);
  put(DCM_SeriesInstanceUID, meta.series_instance_uid);
  put(DCM_FrameOfReferenceUID, meta.frame_of_reference_uid);
  put(DCM_Modality, modality);
  put(DCM_BodyPartExamined, meta.body_part_examined);
  put(DCM_ViewPosition, meta.view_position);
  put(DCM_PatientSex, meta.patient_sex);
  if (meta.patient_age_years) {
    char age[8];
    std::snprintf(age, sizeof age, "%03dY", static_cast<int>(std::floor(*meta.patient_age_years)));
    put(DCM_PatientAge, age);
  }
  if (meta.pixel_spacing_row_mm && meta.pixel_spacing_col_mm)
    put(DCM_PixelSpacing, format_number(*meta.pixel_spacing_row_mm) + "\\" + format_number(*meta.pixel_spacing_col_mm));
  put(DCM_PhotometricInterpretation, meta.photometric_interpretation.empty() ? "MONOCHROME2" : meta.photometric_interpretation);
  const int bits_stored = eight ? 8 : (meta.bits_stored > 0 && meta.bits_stored <= 16 ? meta.bits_stored : 16);
  check(ds.putAndInsertUint16(DCM_SamplesPerPixel, 1), path, "header");
  check(ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(pixels.rows)), path, "header");
  check(ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(pixels.cols)), path, "header");
  check(ds.putAndInsertUint16(DCM_BitsAllocated, eight ? 8 : 16), path, "header");
  check(ds.putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(bits_stored)), path, "header");
  check(ds.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(bits_stored - 1)), path, "header");
  check(ds.putAndInsertUint16(DCM_PixelRepresentation, 0), path, "header");
  if (options.window_center && options.window_width) {
    put(DCM_WindowCenter, format_number(*options.window_center));
    put(DCM_WindowWidth, format_number(*options.window_width));
  }
  if (options.rescale_slope || options.rescale_intercept) {
    put(DCM_RescaleSlope, format_number(options.rescale_slope.value_or(1.0)));
    put(DCM_RescaleIntercept, format_number(options.rescale_intercept.value_or(0.0)));
  }

  cv::Mat contiguous = pixels.isContinuous() ? pixels : pixels.clone();
  if (eight)
    check(ds.putAndInsertUint8Array(DCM_PixelData, contiguous.ptr<Uint8>(), static_cast<unsigned long>(contiguous.total())), path, "pixels");
  else
    check(ds.putAndInsertUint16Array(DCM_PixelData, contiguous.ptr<Uint16>(), static_cast<unsigned long>(contiguous.total())), path, "pixels");

  const E_TransferSyntax xfer = transfer_syntax(options.encoding);
  std::unique_ptr<DcmRepresentationParameter> params;
  if (options.encoding == DicomEncoding::JpegBaseline) params = std::make_unique<DJ_RPLossy>(options.jpeg_quality);
  if (options.encoding == DicomEncoding::JpegLsLossless) params = std::make_unique<DJLSRepresentationParameter>(2, OFTrue);
  if (options.encoding == DicomEncoding::RleLossless) params = std::make_unique<DcmRLERepresentationParameter>();
  check(ds.chooseRepresentation(xfer, params.get()), path, "encoding");
  if (!ds.canWriteXfer(xfer)) throw core::Error(core::at(path) + "cannot encode pixels in the requested transfer syntax");

  core::write_atomically(path, [&](const std::filesystem::path& temp) {
    check(file.saveFile(temp.c_str(), xfer), path, "save");
  });
}

}  // namespace ptx::io
