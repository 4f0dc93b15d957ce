// DICOM outputs a PACS can store beside the radiograph they describe:
//  - a DICOM Segmentation (SEG, binary, DCMTK dcmseg): one frame, one segment "Pneumothorax"
//    (SNOMED CT 36118008, category 49755003 "Morphologically Altered Structure"), in the source's
//    study, its own new series and instance; the frame's Derivation Image functional group and the
//    Common Instance Reference module name the source image (series and SOP instance). It shares
//    the source's Frame of Reference, placed in it by the Pixel Measures and Plane functional
//    groups; a source without one (a projection radiograph, as the challenge's) gives a SEG without
//    one, tied to the source's pixels by the Derivation Image alone. dciodvfy finds no error in it;
//  - a Secondary Capture (SC, RGB) of a picture (the radiograph with the mask burned in), in the
//    source's study, a new series and instance, with the source in its Source Image Sequence
//    (dciodvfy finds no error in it either).
// Both copy the patient and study attributes from the source, never invent them, and are written
// atomically.
#pragma once
#include <opencv2/core.hpp>
#include <string>

namespace ptx::io {

struct DerivedDicomOptions {
  std::string series_description;  // default: "ptx pneumothorax segmentation" / "ptx pneumothorax overlay"
  std::string series_number = "901";
  std::string algorithm = "ptx";   // Segment Algorithm Name / Manufacturer
  std::string algorithm_version;   // default: ptx's version
};

// Writes a binary SEG of mask (CV_8UC1 at the source's Rows x Columns, nonzero = pneumothorax) for
// the DICOM image at source_path. Throws core::Error naming the file (unreadable source, size
// mismatch, DCMTK refusing the object).
void write_dicom_seg(const std::string& path, const std::string& source_path, const cv::Mat& mask,
                     const DerivedDicomOptions& options = {});

// What read_dicom_seg finds in a SEG.
struct DicomSeg {
  cv::Mat mask;  // CV_8UC1 0/255, Rows x Columns: the union of the frames of the first segment
  std::string sop_instance_uid, series_instance_uid, study_instance_uid;
  std::string frame_of_reference_uid;  // "" when the SEG has none (its source had none)
  std::string segment_label, property_type_code, property_category_code;  // code values, e.g. "36118008"
  std::string referenced_sop_instance_uid, referenced_sop_class_uid;      // from Derivation Image FG
  std::string referenced_series_instance_uid;                             // from Referenced Series Sequence
};

// Reads a binary SEG written by write_dicom_seg (or any single-frame binary SEG). Throws
// core::Error naming the file.
DicomSeg read_dicom_seg(const std::string& path);

// Writes picture (CV_8UC3 BGR, or CV_8UC1) as a Secondary Capture derived from the DICOM image at
// source_path: RGB (or MONOCHROME2), 8 bits, the source's Pixel Spacing when the picture has the
// source's size. Throws core::Error naming the file.
void write_dicom_sc(const std::string& path, const std::string& source_path, const cv::Mat& picture,
                    const DerivedDicomOptions& options = {});

// The pixels of an uncompressed 8-bit SC as BGR (RGB files) or grey. Throws core::Error.
cv::Mat read_dicom_sc_pixels(const std::string& path);

}  // namespace ptx::io
