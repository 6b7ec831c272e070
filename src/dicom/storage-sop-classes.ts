/**
 * The storage SOP classes of the DICOM UID registry (PS3.6 Table A-1): every SOP class of the Storage
 * Service Class (PS3.4 Annex B.5), current and retired, so that the C-STORE SCP can accept all of them.
 *
 * Source: the DICOM 2024d edition of PS3.6 Table A-1 as published in pydicom's UID dictionary
 * (github.com/pydicom/pydicom, src/pydicom/_uid_dict.py) at commit
 * 3651ee1e8a509b63d0dc0bf78297469d1e3afc64, the last commit to change that file (it is identical at the
 * repository head fb1f24e4f0418008757766d8e79ec92dc2ab9855). Only data values were transcribed: UID, name
 * and retired flag. Three classes that entered the registry after 2024d are added from DCMTK's
 * dcmdata/include/dcmtk/dcmdata/dcuid.h at commit d12e350e687530eb41e2b0c860aff4d8c04e5941: Waveform
 * Presentation State Storage and Waveform Acquisition Presentation State Storage (Supplement 236) and the
 * DICONDE Ultrasound Waveform Storage (DICOM 2025b).
 *
 * Selection: registry entries of type "SOP Class" whose name ends in "Storage" / "Storage SOP Class" or
 * contains " Storage". Left out: Verification, Storage Commitment Push/Pull Model, Media Storage Directory
 * Storage (DICOMDIR is never sent by C-STORE), the Storage Management (Inventory) and Query/Retrieve,
 * FIND/MOVE/GET models, and the two retired registry entries that have no name
 * (1.2.840.10008.5.1.4.1.1.12.77 and 1.2.840.10008.5.1.4.1.1.40).
 *
 * Names are the registry's; as in PS3.6, the retired classes whose names repeat a current class (US, US
 * multi-frame, NM) carry a " (Retired)" suffix. The image column is this project's own classification: IMG
 * for classes whose instances carry pixel data meant to be displayed (Pixel Data or Float Pixel Data,
 * including segmentations, parametric and thickness/topography maps), NON for everything else (SR, KO,
 * presentation states, encapsulated documents, RT objects other than RT images, waveforms, measurements,
 * protocols, ...). Rows are sorted by UID, numerically component by component.
 */

export interface SopClassInfo {
  uid: string;
  name: string;
  retired: boolean;
}

type Row = readonly [uid: string, name: string, retired: boolean, image: boolean];

const CUR = false;
const RET = true;
const IMG = true;
const NON = false;

// prettier-ignore
const ROWS: readonly Row[] = [
  ['1.2.840.10008.5.1.1.27', 'Stored Print Storage SOP Class', RET, NON],
  ['1.2.840.10008.5.1.1.29', 'Hardcopy Grayscale Image Storage SOP Class', RET, IMG],
  ['1.2.840.10008.5.1.1.30', 'Hardcopy Color Image Storage SOP Class', RET, IMG],
  ['1.2.840.10008.5.1.4.1.1.1', 'Computed Radiography Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.1.1', 'Digital X-Ray Image Storage - For Presentation', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.1.1.1', 'Digital X-Ray Image Storage - For Processing', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.1.2', 'Digital Mammography X-Ray Image Storage - For Presentation', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.1.2.1', 'Digital Mammography X-Ray Image Storage - For Processing', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.1.3', 'Digital Intra-Oral X-Ray Image Storage - For Presentation', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.1.3.1', 'Digital Intra-Oral X-Ray Image Storage - For Processing', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.2', 'CT Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.2.1', 'Enhanced CT Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.2.2', 'Legacy Converted Enhanced CT Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.3', 'Ultrasound Multi-frame Image Storage (Retired)', RET, IMG],
  ['1.2.840.10008.5.1.4.1.1.3.1', 'Ultrasound Multi-frame Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.4', 'MR Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.4.1', 'Enhanced MR Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.4.2', 'MR Spectroscopy Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.4.3', 'Enhanced MR Color Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.4.4', 'Legacy Converted Enhanced MR Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.5', 'Nuclear Medicine Image Storage (Retired)', RET, IMG],
  ['1.2.840.10008.5.1.4.1.1.6', 'Ultrasound Image Storage (Retired)', RET, IMG],
  ['1.2.840.10008.5.1.4.1.1.6.1', 'Ultrasound Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.6.2', 'Enhanced US Volume Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.6.3', 'Photoacoustic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.7', 'Secondary Capture Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.7.1', 'Multi-frame Single Bit Secondary Capture Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.7.2', 'Multi-frame Grayscale Byte Secondary Capture Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.7.3', 'Multi-frame Grayscale Word Secondary Capture Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.7.4', 'Multi-frame True Color Secondary Capture Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.8', 'Standalone Overlay Storage', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.9', 'Standalone Curve Storage', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.9.1', 'Waveform Storage - Trial', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.9.1.1', '12-lead ECG Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.1.2', 'General ECG Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.1.3', 'Ambulatory ECG Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.1.4', 'General 32-bit ECG Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.2.1', 'Hemodynamic Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.3.1', 'Cardiac Electrophysiology Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.4.1', 'Basic Voice Audio Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.4.2', 'General Audio Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.5.1', 'Arterial Pulse Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.6.1', 'Respiratory Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.6.2', 'Multi-channel Respiratory Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.7.1', 'Routine Scalp Electroencephalogram Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.7.2', 'Electromyogram Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.7.3', 'Electrooculogram Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.7.4', 'Sleep Electroencephalogram Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.8.1', 'Body Position Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.100.1', 'Waveform Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.9.100.2', 'Waveform Acquisition Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.10', 'Standalone Modality LUT Storage', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.11', 'Standalone VOI LUT Storage', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.11.1', 'Grayscale Softcopy Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.2', 'Color Softcopy Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.3', 'Pseudo-Color Softcopy Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.4', 'Blending Softcopy Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.5', 'XA/XRF Grayscale Softcopy Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.6', 'Grayscale Planar MPR Volumetric Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.7', 'Compositing Planar MPR Volumetric Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.8', 'Advanced Blending Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.9', 'Volume Rendering Volumetric Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.10', 'Segmented Volume Rendering Volumetric Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.11', 'Multiple Volume Rendering Volumetric Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.11.12', 'Variable Modality LUT Softcopy Presentation State Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.12.1', 'X-Ray Angiographic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.12.1.1', 'Enhanced XA Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.12.2', 'X-Ray Radiofluoroscopic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.12.2.1', 'Enhanced XRF Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.12.3', 'X-Ray Angiographic Bi-Plane Image Storage', RET, IMG],
  ['1.2.840.10008.5.1.4.1.1.13.1.1', 'X-Ray 3D Angiographic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.13.1.2', 'X-Ray 3D Craniofacial Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.13.1.3', 'Breast Tomosynthesis Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.13.1.4', 'Breast Projection X-Ray Image Storage - For Presentation', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.13.1.5', 'Breast Projection X-Ray Image Storage - For Processing', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.14.1', 'Intravascular Optical Coherence Tomography Image Storage - For Presentation', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.14.2', 'Intravascular Optical Coherence Tomography Image Storage - For Processing', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.20', 'Nuclear Medicine Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.30', 'Parametric Map Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.66', 'Raw Data Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.66.1', 'Spatial Registration Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.66.2', 'Spatial Fiducials Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.66.3', 'Deformable Spatial Registration Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.66.4', 'Segmentation Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.66.5', 'Surface Segmentation Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.66.6', 'Tractography Results Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.66.7', 'Label Map Segmentation Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.66.8', 'Height Map Segmentation Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.67', 'Real World Value Mapping Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.68.1', 'Surface Scan Mesh Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.68.2', 'Surface Scan Point Cloud Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.77.1', 'VL Image Storage - Trial', RET, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.1', 'VL Endoscopic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.1.1', 'Video Endoscopic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.2', 'VL Microscopic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.2.1', 'Video Microscopic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.3', 'VL Slide-Coordinates Microscopic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.4', 'VL Photographic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.4.1', 'Video Photographic Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.1', 'Ophthalmic Photography 8 Bit Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.2', 'Ophthalmic Photography 16 Bit Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.3', 'Stereometric Relationship Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.4', 'Ophthalmic Tomography Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.5', 'Wide Field Ophthalmic Photography Stereographic Projection Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.6', 'Wide Field Ophthalmic Photography 3D Coordinates Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.7', 'Ophthalmic Optical Coherence Tomography En Face Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.8', 'Ophthalmic Optical Coherence Tomography B-scan Volume Analysis Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.6', 'VL Whole Slide Microscopy Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.7', 'Dermoscopic Photography Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.8', 'Confocal Microscopy Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.1.9', 'Confocal Microscopy Tiled Pyramidal Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.77.2', 'VL Multi-frame Image Storage - Trial', RET, IMG],
  ['1.2.840.10008.5.1.4.1.1.78.1', 'Lensometry Measurements Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.78.2', 'Autorefraction Measurements Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.78.3', 'Keratometry Measurements Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.78.4', 'Subjective Refraction Measurements Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.78.5', 'Visual Acuity Measurements Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.78.6', 'Spectacle Prescription Report Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.78.7', 'Ophthalmic Axial Measurements Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.78.8', 'Intraocular Lens Calculations Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.79.1', 'Macular Grid Thickness and Volume Report Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.80.1', 'Ophthalmic Visual Field Static Perimetry Measurements Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.81.1', 'Ophthalmic Thickness Map Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.82.1', 'Corneal Topography Map Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.88.1', 'Text SR Storage - Trial', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.88.2', 'Audio SR Storage - Trial', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.88.3', 'Detail SR Storage - Trial', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.88.4', 'Comprehensive SR Storage - Trial', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.88.11', 'Basic Text SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.22', 'Enhanced SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.33', 'Comprehensive SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.34', 'Comprehensive 3D SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.35', 'Extensible SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.40', 'Procedure Log Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.50', 'Mammography CAD SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.59', 'Key Object Selection Document Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.65', 'Chest CAD SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.67', 'X-Ray Radiation Dose SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.68', 'Radiopharmaceutical Radiation Dose SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.69', 'Colon CAD SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.70', 'Implantation Plan SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.71', 'Acquisition Context SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.72', 'Simplified Adult Echo SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.73', 'Patient Radiation Dose SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.74', 'Planned Imaging Agent Administration SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.75', 'Performed Imaging Agent Administration SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.76', 'Enhanced X-Ray Radiation Dose SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.88.77', 'Waveform Annotation SR Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.90.1', 'Content Assessment Results Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.91.1', 'Microscopy Bulk Simple Annotations Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.104.1', 'Encapsulated PDF Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.104.2', 'Encapsulated CDA Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.104.3', 'Encapsulated STL Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.104.4', 'Encapsulated OBJ Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.104.5', 'Encapsulated MTL Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.128', 'Positron Emission Tomography Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.128.1', 'Legacy Converted Enhanced PET Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.129', 'Standalone PET Curve Storage', RET, NON],
  ['1.2.840.10008.5.1.4.1.1.130', 'Enhanced PET Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.131', 'Basic Structured Display Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.200.1', 'CT Defined Procedure Protocol Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.200.2', 'CT Performed Procedure Protocol Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.200.3', 'Protocol Approval Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.200.7', 'XA Defined Procedure Protocol Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.200.8', 'XA Performed Procedure Protocol Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.201.1', 'Inventory Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.1', 'RT Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.481.2', 'RT Dose Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.3', 'RT Structure Set Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.4', 'RT Beams Treatment Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.5', 'RT Plan Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.6', 'RT Brachy Treatment Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.7', 'RT Treatment Summary Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.8', 'RT Ion Plan Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.9', 'RT Ion Beams Treatment Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.10', 'RT Physician Intent Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.11', 'RT Segment Annotation Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.12', 'RT Radiation Set Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.13', 'C-Arm Photon-Electron Radiation Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.14', 'Tomotherapeutic Radiation Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.15', 'Robotic-Arm Radiation Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.16', 'RT Radiation Record Set Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.17', 'RT Radiation Salvage Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.18', 'Tomotherapeutic Radiation Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.19', 'C-Arm Photon-Electron Radiation Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.20', 'Robotic Radiation Record Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.21', 'RT Radiation Set Delivery Instruction Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.22', 'RT Treatment Preparation Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.481.23', 'Enhanced RT Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.481.24', 'Enhanced Continuous RT Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.481.25', 'RT Patient Position Acquisition Instruction Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.501.1', 'DICOS CT Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.501.2.1', 'DICOS Digital X-Ray Image Storage - For Presentation', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.501.2.2', 'DICOS Digital X-Ray Image Storage - For Processing', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.501.3', 'DICOS Threat Detection Report Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.501.4', 'DICOS 2D AIT Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.501.5', 'DICOS 3D AIT Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.501.6', 'DICOS Quadrupole Resonance (QR) Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.1.1.601.1', 'Eddy Current Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.601.2', 'Eddy Current Multi-frame Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.601.3', 'Thermography Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.601.4', 'Thermography Multi-frame Image Storage', CUR, IMG],
  ['1.2.840.10008.5.1.4.1.1.601.5', 'Ultrasound Waveform Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.34.1', 'RT Beams Delivery Instruction Storage - Trial', RET, NON],
  ['1.2.840.10008.5.1.4.34.7', 'RT Beams Delivery Instruction Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.34.10', 'RT Brachy Application Setup Delivery Instruction Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.38.1', 'Hanging Protocol Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.39.1', 'Color Palette Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.43.1', 'Generic Implant Template Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.44.1', 'Implant Assembly Template Storage', CUR, NON],
  ['1.2.840.10008.5.1.4.45.1', 'Implant Template Group Storage', CUR, NON],
];

export const STORAGE_SOP_CLASSES: readonly SopClassInfo[] = Object.freeze(
  ROWS.map(([uid, name, retired]): SopClassInfo => Object.freeze({ uid, name, retired })),
);

const BY_UID: ReadonlyMap<string, SopClassInfo> = new Map(STORAGE_SOP_CLASSES.map((c) => [c.uid, c]));

const NON_IMAGE_UIDS: ReadonlySet<string> = new Set(ROWS.filter((row) => !row[3]).map((row) => row[0]));

/** UI values may arrive padded to even length with a trailing NUL (PS3.5 6.2); tolerate that and spaces. */
function normalize(uid: string): string {
  return uid.replace(/[\0 ]+$/, '');
}

export function isStorageSopClass(uid: string): boolean {
  return BY_UID.has(normalize(uid));
}

export function storageSopClassName(uid: string): string | undefined {
  return BY_UID.get(normalize(uid))?.name;
}

/**
 * Non-image storage classes (SR documents, KO, presentation states, encapsulated PDF/CDA/STL/OBJ/MTL, RT
 * plans, structure sets, doses and treatment records, waveforms, measurements, protocols, ...), for telling
 * rendered and thumbnail requests "not an image". False for image classes and for UIDs that are not in the
 * table (private SOP classes), whose instances may well carry pixel data.
 */
export function isNonImageSopClass(uid: string): boolean {
  return NON_IMAGE_UIDS.has(normalize(uid));
}
