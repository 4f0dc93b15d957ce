#include "ptx/io/dicom_seg.h"

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmiod/iodutil.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/io/dicom.h"
#include "ptx/version.h"

namespace ptx::io {

namespace {

// Pneumothorax as the SNOMED CT codes of the DICOM segmentation context groups (CID 7150/7151
// style: category "Morphologically Altered Structure", type "Pneumothorax").
constexpr const char* kCategoryCode = "49755003";
constexpr const char* kCategoryMeaning = "Morphologically Altered Structure";
constexpr const char* kTypeCode = "36118008";
constexpr const char* kTypeMeaning = "Pneumothorax";

void check(const OFCondition& c, const std::string& path, const std::string& what) {
  if (c.bad()) throw core::Error(core::at(path) + "cannot write DICOM (" + what + ": " + c.text() + ")");
}

std::string get(DcmItem& item, const DcmTagKey& tag) {
  OFString v;
  if (item.findAndGetOFStringArray(tag, v).good()) return v.c_str();
  return "";
}

std::string new_uid(const char* root) {
  char buf[100];
  dcmGenerateUniqueIdentifier(buf, root);
  return buf;
}

std::string version_of(const DerivedDicomOptions& o) {
  return o.algorithm_version.empty() ? std::string(kVersion) : o.algorithm_version;
}

// The source, loaded whole (the header is not enough for DCMTK's import of patient and study).
struct Source {
  DcmFileFormat file;
  DcmDataset* ds = nullptr;
  std::string sop_class, sop_instance, series, study, frame_of_reference;
  int rows = 0, columns = 0;
  std::string pixel_spacing;  // "r\c" or ""
};

// A derived object must be valid DICOM, and DCMTK refuses to write one that copies an invalid
// Patient's Age. The challenge's own files hold the age as bare years ("38", not the Age String
// "038Y"): such a value is rewritten as the Age String it means, or dropped when it means nothing.
void repair_patient_age(DcmDataset& ds) {
  const std::string age = get(ds, DCM_PatientAge);
  const bool valid = age.size() == 4 && std::isdigit(static_cast<unsigned char>(age[0])) &&
                     std::isdigit(static_cast<unsigned char>(age[1])) && std::isdigit(static_cast<unsigned char>(age[2])) &&
                     std::string("DWMY").find(age[3]) != std::string::npos;
  if (age.empty() || valid) return;
  const auto years = parse_age_years(age);
  if (years && *years >= 0 && *years < 1000 && age.find_first_not_of("0123456789 ") == std::string::npos) {
    char text[8];
    std::snprintf(text, sizeof(text), "%03dY", int(*years));
    ds.putAndInsertString(DCM_PatientAge, text);
  } else {
    ds.findAndDeleteElement(DCM_PatientAge);
  }
}

// Decimal Strings of at most 16 characters, as the VR allows: some of the challenge's files write
// their Pixel Spacing as "0.14300000000000002\0.14300000000000002", which DCMTK refuses to copy.
std::string valid_decimal_strings(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream values(text);
  for (std::string item; std::getline(values, item, '\\');) {
    if (item.size() > 16) {
      char shorter[32];
      std::snprintf(shorter, sizeof(shorter), "%.10g", std::strtod(item.c_str(), nullptr));
      item = shorter;
    }
    items.push_back(item);
  }
  return core::join(items, "\\");
}

void load_source(Source& s, const std::string& source_path) {
  register_dicom_codecs();
  if (!std::filesystem::is_regular_file(source_path)) throw core::Error(core::at(source_path) + "no such DICOM file");
  const OFCondition c = s.file.loadFile(source_path.c_str());
  if (c.bad()) throw core::Error(core::at(source_path) + "not a readable DICOM file (" + c.text() + ")");
  s.ds = s.file.getDataset();
  repair_patient_age(*s.ds);
  s.sop_class = get(*s.ds, DCM_SOPClassUID);
  s.sop_instance = get(*s.ds, DCM_SOPInstanceUID);
  s.series = get(*s.ds, DCM_SeriesInstanceUID);
  s.study = get(*s.ds, DCM_StudyInstanceUID);
  s.frame_of_reference = get(*s.ds, DCM_FrameOfReferenceUID);
  Uint16 v = 0;
  if (s.ds->findAndGetUint16(DCM_Rows, v).good()) s.rows = v;
  if (s.ds->findAndGetUint16(DCM_Columns, v).good()) s.columns = v;
  s.pixel_spacing = get(*s.ds, DCM_PixelSpacing);
  if (s.pixel_spacing.empty()) s.pixel_spacing = get(*s.ds, DCM_ImagerPixelSpacing);
  if (!s.pixel_spacing.empty()) s.pixel_spacing = valid_decimal_strings(s.pixel_spacing);
  if (s.sop_class.empty() || s.sop_instance.empty() || s.study.empty() || s.series.empty())
    throw core::Error(core::at(source_path) + "lacks SOP Class, SOP Instance, Study or Series Instance UID: cannot derive DICOM from it");
  if (s.rows <= 0 || s.columns <= 0) throw core::Error(core::at(source_path) + "has no Rows/Columns: not an image");
}

// Splits "a\b\c" into its values.
std::vector<std::string> values(const std::string& multi) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = multi.find('\\', start);
    out.push_back(multi.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// The SEG of an image without a Frame of Reference (a projection radiograph; the challenge's files
// have none) has none either, as highdicom writes it: inventing one that no other object shares
// would claim a spatial relation that does not exist. Without it, the frame has no place in the
// patient (no Pixel Measures, Plane Position or Plane Orientation) and is tied to the source by
// its Derivation Image functional group alone, pixel for pixel; the General Image module then
// asks for the Patient Orientation of its rows and columns, the source's (Type 2: empty if unknown).
// The Segmentation IOD allows this (its Frame of Reference module is required only when the
// Derivation Image functional group is absent), and so does dcmseg's own check(), but dcmiod 3.6.7
// writes the module unconditionally with its UID as Type 1, refusing the object without one, and
// writes no empty Patient Orientation (Type 2C to it). The rules are set to what the IOD says of
// this SEG.
void set_projection_geometry(DcmSegmentation& seg, const Source& src, const std::string& path) {
  const OFString module = "FrameOfReferenceModule";
  seg.getRules()->addRule(new IODRule(DCM_FrameOfReferenceUID, "1", "1C", module, DcmIODTypes::IE_FOR), OFTrue);
  seg.getRules()->addRule(new IODRule(DCM_PositionReferenceIndicator, "1", "2C", module, DcmIODTypes::IE_FOR), OFTrue);
  seg.getRules()->addRule(new IODRule(DCM_PatientOrientation, "2", "2", "GeneralImageModule", DcmIODTypes::IE_IMAGE),
                          OFTrue);
  check(seg.getGeneralImage().setPatientOrientation(get(*src.ds, DCM_PatientOrientation).c_str()), path,
        "patient orientation");
}

// A SEG in its source's Frame of Reference places its frame in it with the Pixel Measures, Plane
// Position and Plane Orientation functional groups (the IOD requires all three then, and Slice
// Thickness in the Pixel Measures). The SEG's pixels are the source's, so the source's geometry is
// copied; what a projection radiograph does not carry (its plane in the patient, a slice
// thickness, perhaps a pixel spacing) is written as nominal: the identity plane at the origin,
// 1 mm thick, 1 mm pixels.
void set_plane_geometry(DcmSegmentation& seg, const Source& src, const std::string& path) {
  FGPixelMeasures measures;
  check(measures.setPixelSpacing(src.pixel_spacing.empty() ? "1\\1" : src.pixel_spacing.c_str()), path, "pixel spacing");
  const std::string thickness = valid_decimal_strings(get(*src.ds, DCM_SliceThickness));
  check(measures.setSliceThickness(thickness.empty() ? "1" : thickness.c_str()), path, "slice thickness");
  check(seg.addForAllFrames(measures), path, "pixel measures");
  FGPlanePosPatient position;
  auto pos = values(get(*src.ds, DCM_ImagePositionPatient));
  if (pos.size() != 3) pos = {"0", "0", "0"};
  check(position.setImagePositionPatient(pos[0].c_str(), pos[1].c_str(), pos[2].c_str()), path, "plane position");
  check(seg.addForAllFrames(position), path, "plane position");
  FGPlaneOrientationPatient orientation;
  auto ori = values(get(*src.ds, DCM_ImageOrientationPatient));
  if (ori.size() != 6) ori = {"1", "0", "0", "0", "1", "0"};
  check(orientation.setImageOrientationPatient(ori[0].c_str(), ori[1].c_str(), ori[2].c_str(), ori[3].c_str(),
                                               ori[4].c_str(), ori[5].c_str()),
        path, "plane orientation");
  check(seg.addForAllFrames(orientation), path, "plane orientation");
}

template <typename T>
struct DcmtkDelete {
  void operator()(T* p) const { delete p; }
};

}  // namespace

void write_dicom_seg(const std::string& path, const std::string& source_path, const cv::Mat& mask,
                     const DerivedDicomOptions& options) {
  if (mask.empty() || mask.type() != CV_8UC1) throw core::Error(core::at(path) + "the SEG mask must be an 8-bit single-channel image");
  Source src;
  load_source(src, source_path);
  if (mask.rows != src.rows || mask.cols != src.columns)
    throw core::Error(core::at(path) + "mask is " + std::to_string(mask.cols) + "x" + std::to_string(mask.rows) +
                      " but the source image is " + std::to_string(src.columns) + "x" + std::to_string(src.rows));

  const IODGeneralEquipmentModule::EquipmentInfo equipment(options.algorithm.c_str(), options.algorithm.c_str(), "1",
                                                           version_of(options).c_str());
  // No Content Creator's Name: it is a person's name (PN), and no person made this; the algorithm is
  // named as the segment's algorithm and as the equipment.
  const ContentIdentificationMacro content("1", "PNEUMOTHORAX",
                                           "Automatic pneumothorax segmentation (research use only)", "");
  DcmSegmentation* raw = nullptr;
  check(DcmSegmentation::createBinarySegmentation(raw, Uint16(src.rows), Uint16(src.columns), equipment, content), path,
        "create segmentation");
  std::unique_ptr<DcmSegmentation, DcmtkDelete<DcmSegmentation>> seg(raw);

  // Patient, study and (when the source has one) frame of reference from the source; a new series
  // and instance.
  check(seg->importFromSourceImage(*src.ds, OFTrue), path, "import patient and study from the source");
  check(seg->getSeries().setSeriesInstanceUID(new_uid(SITE_SERIES_UID_ROOT).c_str()), path, "series");
  check(seg->getSOPCommon().setSOPInstanceUID(new_uid(SITE_INSTANCE_UID_ROOT).c_str()), path, "instance");
  check(seg->getSeries().setSeriesNumber(options.series_number.c_str()), path, "series number");
  check(seg->getSeries().setSeriesDescription(
            (options.series_description.empty() ? "ptx pneumothorax segmentation" : options.series_description).c_str()),
        path, "series description");
  check(DcmIODUtil::setContentDateAndTimeNow(seg->getGeneralImage()), path, "content date");

  // One segment.
  DcmSegment* segment = nullptr;
  check(DcmSegment::create(segment, "Pneumothorax", CodeSequenceMacro(kCategoryCode, "SCT", kCategoryMeaning),
                           CodeSequenceMacro(kTypeCode, "SCT", kTypeMeaning), DcmSegTypes::SAT_AUTOMATIC,
                           options.algorithm.c_str()),
        path, "segment");
  Uint16 segment_number = 0;
  const OFCondition added = seg->addSegment(segment, segment_number);
  if (added.bad()) delete segment;
  check(added, path, "add segment");

  if (src.frame_of_reference.empty()) set_projection_geometry(*seg, src, path);
  else set_plane_geometry(*seg, src, path);

  // The frame, with the image it was derived from and its dimension index (its segment).
  const std::string dimension_uid = new_uid(SITE_INSTANCE_UID_ROOT);
  check(seg->getDimensions().addDimensionIndex(DCM_ReferencedSegmentNumber, dimension_uid.c_str(),
                                               DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
        path, "dimension index");
  FGFrameContent frame_content;
  check(frame_content.setDimensionIndexValues(segment_number, 0), path, "frame content");
  ImageSOPInstanceReferenceMacro source_ref;
  check(source_ref.setReferencedSOPClassUID(src.sop_class.c_str()), path, "source reference");
  check(source_ref.setReferencedSOPInstanceUID(src.sop_instance.c_str()), path, "source reference");
  OFVector<ImageSOPInstanceReferenceMacro> derived_from;
  derived_from.push_back(source_ref);
  std::unique_ptr<FGDerivationImage> derivation(
      DcmSegmentation::createDerivationImageFG(derived_from, "Segmented by a neural network (ptx)"));
  if (!derivation) throw core::Error(core::at(path) + "cannot write DICOM (derivation image functional group)");
  OFVector<FGBase*> per_frame;
  per_frame.push_back(&frame_content);
  per_frame.push_back(derivation.get());
  cv::Mat binary;
  cv::compare(mask, 0, binary, cv::CMP_GT);  // 0/255; dcmseg packs every nonzero byte as 1
  if (!binary.isContinuous()) binary = binary.clone();
  check(seg->addFrame(binary.ptr<Uint8>(), segment_number, per_frame), path, "frame");

  // The Common Instance Reference module: the source's series and instance.
  IODReferences references;
  references.add(new IODImageReference(get(*src.ds, DCM_PatientID).c_str(), src.study.c_str(), src.series.c_str(),
                                       src.sop_instance.c_str(), src.sop_class.c_str()));
  seg->getCommonInstanceReference().addReferences(references, src.study.c_str());

  DcmFileFormat out;
  check(seg->writeDataset(*out.getDataset()), path, "segmentation");
  core::write_atomically(path, [&](const std::filesystem::path& temp) {
    check(out.saveFile(temp.c_str(), EXS_LittleEndianExplicit), path, "save");
  });
}

DicomSeg read_dicom_seg(const std::string& path) {
  register_dicom_codecs();
  if (!std::filesystem::is_regular_file(path)) throw core::Error(core::at(path) + "no such file");
  DcmFileFormat file;
  const OFCondition loaded = file.loadFile(path.c_str());
  if (loaded.bad()) throw core::Error(core::at(path) + "not a readable DICOM file (" + loaded.text() + ")");
  DcmDataset& ds = *file.getDataset();
  if (get(ds, DCM_SOPClassUID) != UID_SegmentationStorage)
    throw core::Error(core::at(path) + "not a DICOM Segmentation (SOP Class " + get(ds, DCM_SOPClassUID) + ")");
  DicomSeg r;
  r.sop_instance_uid = get(ds, DCM_SOPInstanceUID);
  r.series_instance_uid = get(ds, DCM_SeriesInstanceUID);
  r.study_instance_uid = get(ds, DCM_StudyInstanceUID);
  r.frame_of_reference_uid = get(ds, DCM_FrameOfReferenceUID);
  DcmItem* item = nullptr;
  if (ds.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, item, 0).good() && item)
    r.referenced_series_instance_uid = get(*item, DCM_SeriesInstanceUID);
  // PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
  DcmItem *frame = nullptr, *derivation = nullptr, *source = nullptr;
  if (ds.findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, 0).good() && frame &&
      frame->findAndGetSequenceItem(DCM_DerivationImageSequence, derivation, 0).good() && derivation &&
      derivation->findAndGetSequenceItem(DCM_SourceImageSequence, source, 0).good() && source) {
    r.referenced_sop_instance_uid = get(*source, DCM_ReferencedSOPInstanceUID);
    r.referenced_sop_class_uid = get(*source, DCM_ReferencedSOPClassUID);
  }
  Uint16 rows = 0, cols = 0;
  if (ds.findAndGetUint16(DCM_Rows, rows).bad() || ds.findAndGetUint16(DCM_Columns, cols).bad() || !rows || !cols)
    throw core::Error(core::at(path) + "SEG without Rows/Columns");

  DcmSegmentation* raw = nullptr;
  const OFCondition c = DcmSegmentation::loadDataset(ds, raw);
  std::unique_ptr<DcmSegmentation, DcmtkDelete<DcmSegmentation>> seg(raw);
  if (c.bad() || !seg) throw core::Error(core::at(path) + "not a readable DICOM Segmentation (" + c.text() + ")");
  if (seg->getSegmentationType() != DcmSegTypes::ST_BINARY)
    throw core::Error(core::at(path) + "not a binary segmentation (ptx reads binary SEGs only)");
  if (DcmSegment* s = seg->getSegment(1)) {
    OFString v;
    if (s->getSegmentLabel(v).good()) r.segment_label = v.c_str();
    if (s->getSegmentedPropertyTypeCode().getCodeValue(v).good()) r.property_type_code = v.c_str();
    if (s->getSegmentedPropertyCategoryCode().getCodeValue(v).good()) r.property_category_code = v.c_str();
  } else {
    throw core::Error(core::at(path) + "SEG without segment 1");
  }
  r.mask = cv::Mat::zeros(rows, cols, CV_8U);
  OFVector<size_t> frames;
  seg->getFramesForSegment(1, frames);
  for (const size_t f : frames) {
    const DcmIODTypes::Frame* packed = seg->getFrame(f);
    if (!packed) throw core::Error(core::at(path) + "SEG frame " + std::to_string(f + 1) + " is missing");
    std::unique_ptr<DcmIODTypes::Frame> bytes(DcmSegUtils::unpackBinaryFrame(packed, rows, cols));
    if (!bytes || bytes->length < size_t(rows) * cols)
      throw core::Error(core::at(path) + "SEG frame " + std::to_string(f + 1) + " cannot be unpacked");
    const cv::Mat frame_mask(rows, cols, CV_8U, bytes->pixData);
    cv::Mat on;
    cv::compare(frame_mask, 0, on, cv::CMP_GT);
    cv::bitwise_or(r.mask, on, r.mask);
  }
  return r;
}

void write_dicom_sc(const std::string& path, const std::string& source_path, const cv::Mat& picture,
                    const DerivedDicomOptions& options) {
  if (picture.empty() || picture.depth() != CV_8U || (picture.channels() != 3 && picture.channels() != 1))
    throw core::Error(core::at(path) + "the Secondary Capture picture must be 8-bit BGR or grey");
  Source src;
  load_source(src, source_path);

  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  // Patient and study as the source has them (type 2 attributes present, empty when absent there).
  const DcmTagKey copied[] = {DCM_SpecificCharacterSet, DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate,
                              DCM_PatientSex, DCM_PatientAge, DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime,
                              DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber, DCM_StudyDescription,
                              DCM_BodyPartExamined, DCM_Laterality, DCM_PatientOrientation};
  const DcmTagKey type2[] = {DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate,
                             DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber,
                             DCM_PatientOrientation};
  for (const auto& tag : copied) {
    DcmElement* e = nullptr;
    if (src.ds->findAndGetElement(tag, e).good() && e) check(ds.insert(static_cast<DcmElement*>(e->clone()), true), path, "copy");
  }
  for (const auto& tag : type2)
    if (!ds.tagExists(tag)) check(ds.insertEmptyElement(tag), path, "header");
  // Laterality is required (Type 2C) when the body part examined is paired, and must be absent when
  // it is not: a source that names no body part leaves it open, so the SC says "unknown" (empty).
  if (get(ds, DCM_BodyPartExamined).empty() && !ds.tagExists(DCM_Laterality))
    check(ds.insertEmptyElement(DCM_Laterality), path, "header");

  auto put = [&](const DcmTagKey& tag, const std::string& v) { check(ds.putAndInsertString(tag, v.c_str()), path, "header"); };
  put(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  put(DCM_SOPInstanceUID, new_uid(SITE_INSTANCE_UID_ROOT));
  put(DCM_SeriesInstanceUID, new_uid(SITE_SERIES_UID_ROOT));
  put(DCM_Modality, "OT");
  put(DCM_SeriesNumber, options.series_number);
  put(DCM_InstanceNumber, "1");
  put(DCM_SeriesDescription, options.series_description.empty() ? "ptx pneumothorax overlay" : options.series_description);
  put(DCM_ConversionType, "WSD");
  put(DCM_ImageType, "DERIVED\\SECONDARY");
  put(DCM_DerivationDescription, "Radiograph with the pneumothorax predicted by a neural network (ptx) burned in");
  put(DCM_BurnedInAnnotation, "NO");
  put(DCM_Manufacturer, options.algorithm);
  put(DCM_SecondaryCaptureDeviceManufacturer, options.algorithm);
  put(DCM_SecondaryCaptureDeviceSoftwareVersions, version_of(options));
  OFString date, time;
  DcmDate::getCurrentDate(date);
  DcmTime::getCurrentTime(time);
  put(DCM_ContentDate, date.c_str());
  put(DCM_ContentTime, time.c_str());
  if (picture.rows == src.rows && picture.cols == src.columns && !src.pixel_spacing.empty())
    put(DCM_PixelSpacing, src.pixel_spacing);

  DcmItem* ref = nullptr;
  check(ds.findOrCreateSequenceItem(DCM_SourceImageSequence, ref, -2), path, "source image");
  check(ref->putAndInsertString(DCM_ReferencedSOPClassUID, src.sop_class.c_str()), path, "source image");
  check(ref->putAndInsertString(DCM_ReferencedSOPInstanceUID, src.sop_instance.c_str()), path, "source image");

  const bool colour = picture.channels() == 3;
  cv::Mat pixels;
  if (colour) cv::cvtColor(picture, pixels, cv::COLOR_BGR2RGB);
  else pixels = picture.isContinuous() ? picture : picture.clone();
  check(ds.putAndInsertUint16(DCM_SamplesPerPixel, colour ? 3 : 1), path, "header");
  put(DCM_PhotometricInterpretation, colour ? "RGB" : "MONOCHROME2");
  if (colour) check(ds.putAndInsertUint16(DCM_PlanarConfiguration, 0), path, "header");
  check(ds.putAndInsertUint16(DCM_Rows, Uint16(picture.rows)), path, "header");
  check(ds.putAndInsertUint16(DCM_Columns, Uint16(picture.cols)), path, "header");
  check(ds.putAndInsertUint16(DCM_BitsAllocated, 8), path, "header");
  check(ds.putAndInsertUint16(DCM_BitsStored, 8), path, "header");
  check(ds.putAndInsertUint16(DCM_HighBit, 7), path, "header");
  check(ds.putAndInsertUint16(DCM_PixelRepresentation, 0), path, "header");
  check(ds.putAndInsertUint8Array(DCM_PixelData, pixels.ptr<Uint8>(), static_cast<unsigned long>(pixels.total() * pixels.channels())),
        path, "pixels");
  core::write_atomically(path, [&](const std::filesystem::path& temp) {
    check(file.saveFile(temp.c_str(), EXS_LittleEndianExplicit), path, "save");
  });
}

cv::Mat read_dicom_sc_pixels(const std::string& path) {
  register_dicom_codecs();
  DcmFileFormat file;
  const OFCondition loaded = file.loadFile(path.c_str());
  if (loaded.bad()) throw core::Error(core::at(path) + "not a readable DICOM file (" + loaded.text() + ")");
  DcmDataset& ds = *file.getDataset();
  Uint16 rows = 0, cols = 0, samples = 0, bits = 0;
  ds.findAndGetUint16(DCM_Rows, rows);
  ds.findAndGetUint16(DCM_Columns, cols);
  ds.findAndGetUint16(DCM_SamplesPerPixel, samples);
  ds.findAndGetUint16(DCM_BitsAllocated, bits);
  if (!rows || !cols || bits != 8 || (samples != 1 && samples != 3))
    throw core::Error(core::at(path) + "not an 8-bit grey or RGB image");
  Uint16 planar = 0;
  ds.findAndGetUint16(DCM_PlanarConfiguration, planar);
  if (planar != 0) throw core::Error(core::at(path) + "planar RGB is not supported");
  const Uint8* data = nullptr;
  unsigned long count = 0;
  if (ds.findAndGetUint8Array(DCM_PixelData, data, &count).bad() || !data || count < size_t(rows) * cols * samples)
    throw core::Error(core::at(path) + "pixel data missing or compressed");
  const cv::Mat view(rows, cols, samples == 3 ? CV_8UC3 : CV_8UC1, const_cast<Uint8*>(data));
  cv::Mat out;
  if (samples == 3) cv::cvtColor(view, out, cv::COLOR_RGB2BGR);
  else out = view.clone();
  return out;
}

}  // namespace ptx::io
