"""DICOM PS3.15 Annex E, Table E.1-1: the Basic Application Level Confidentiality Profile.

Data only. Source: the machine-readable extraction of the DICOM standard (edition
2024b) in github.com/innolitics/dicom-standard, file
``standard/confidentiality_profile_attributes.json`` (commit 8670abdd, "Update
standard to rev2024b"), cross-checked against pydicom's data dictionary for the
keywords. The private-attribute row ("(gggg,eeee) where gggg is odd", action X)
is not a single tag and is handled in :mod:`ledger.imaging.deid`.

Each entry is ``Keyword TAG ACTION OPTIONS``, entries separated by ``|``:

* TAG is ``ggggeeee`` in hex; ``xx`` marks a repeating group (curves 50xx,
  overlays 60xx).
* ACTION is the Basic Profile action: D (dummy value), Z (zero length or dummy),
  X (remove), U (replace UID) and their combinations (``X/Z/D`` etc.; ``U*``
  replaces the UIDs inside a sequence's items).
* OPTIONS lists the profile options under which the attribute may be kept (K)
  or cleaned (C) rather than removed, by letter (``-`` for none); see
  :data:`OPTION_CODES`.
"""

from __future__ import annotations

from typing import NamedTuple

# Option letter -> CID 7050 "De-identification Method" code value (DCM scheme)
# that declares the option in De-identification Method Code Sequence (0012,0064).
OPTION_CODES = {
    "G": "113103",  # Clean Graphics Option
    "S": "113104",  # Clean Structured Content Option
    "D": "113105",  # Clean Descriptors Option
    "F": "113106",  # Retain Longitudinal Temporal Information Full Dates Option
    "M": "113107",  # Retain Longitudinal Temporal Information Modified Dates Option
    "P": "113108",  # Retain Patient Characteristics Option
    "V": "113109",  # Retain Device Identity Option
    "U": "113110",  # Retain UIDs Option
    "R": "113111",  # Retain Safe Private Option
    "I": "113112",  # Retain Institution Identity Option
}
BASIC_PROFILE_CODE = "113100"


class ProfileAttribute(NamedTuple):
    keyword: str
    group: int  # for a repeating group, its first group (0x5000, 0x6000)
    element: int  # -1: any element (curve data)
    repeating: bool  # group is a range: 0x5000-0x50FF or 0x6000-0x60FF, even groups
    action: str
    options: frozenset[str]  # CID 7050 code values that allow keeping or cleaning it


_TABLE = """
AccessionNumber 00080050 Z - | AcquisitionComments 00184000 X D
AcquisitionContextSequence 00400555 X/Z S | AcquisitionDate 00080022 X/Z FM
AcquisitionDateTime 0008002a X/Z/D FM | AcquisitionDeviceProcessingDescription 00181400 X/D D
AcquisitionFieldOfViewLabel 001811bb D D | AcquisitionProtocolDescription 00189424 X D
AcquisitionTime 00080032 X/Z FM | AcquisitionUID 00080017 U U
ActualHumanPerformersSequence 00404035 X - | AdditionalPatientHistory 001021b0 X D
AddressTrial 0040a353 X - | AdmissionID 00380010 X - | AdmittingDate 00380020 X FM
AdmittingDiagnosesCodeSequence 00081084 X D | AdmittingDiagnosesDescription 00081080 X D
AdmittingTime 00380021 X FM | AffectedSOPInstanceUID 00001000 X U | Allergies 00102110 X DP
AnnotationGroupDescription 006a0006 X D | AnnotationGroupLabel 006a0005 D D
AnnotationGroupUID 006a0003 D U | ApprovalStatusDateTime 00440004 X FM | Arbitrary 40000010 X -
AssertionDateTime 00440104 D FM | AssertionExpirationDateTime 00440105 X FM
AttributeModificationDateTime 04000562 D FM | AuthorObserverSequence 0040a078 X -
BarcodeValue 22000005 X/Z - | BeamDescription 300a00c3 X D
BeamHoldTransitionDateTime 300c0127 D FMV | BolusDescription 300a00dd X D
BranchOfService 00101081 X - | CalibrationDate 0014407e X FMV
CalibrationDateTime 00181203 Z FMV | CalibrationTime 0014407c X FMV
CameraOwnerName 0016004d X - | CassetteID 00181007 X V | CertificateOfSigner 04000115 D -
CertifiedTimestamp 04000310 X FM | ClinicalTrialCoordinatingCenterName 00120060 Z I
ClinicalTrialProtocolEthicsCommitteeApprovalNumber 00120082 X -
ClinicalTrialProtocolEthicsCommitteeName 00120081 D I | ClinicalTrialProtocolID 00120020 D -
ClinicalTrialProtocolName 00120021 Z - | ClinicalTrialSeriesDescription 00120072 X D
ClinicalTrialSeriesID 00120071 X - | ClinicalTrialSiteID 00120030 Z I
ClinicalTrialSiteName 00120031 Z I | ClinicalTrialSponsorName 00120010 D -
ClinicalTrialSubjectID 00120040 D - | ClinicalTrialSubjectReadingID 00120042 D -
ClinicalTrialTimePointDescription 00120051 X D | ClinicalTrialTimePointID 00120050 Z -
CommentsOnRadiationDose 00400310 X D | CommentsOnThePerformedProcedureStep 00400280 X D
CompensatorDescription 300a02eb X D | ConcatenationUID 00209161 U U
ConceptualVolumeCombinationDescription 3010000f Z D | ConceptualVolumeDescription 30100017 Z D
ConceptualVolumeUID 30100006 U U
ConfidentialityConstraintOnPatientDataDescription 00403001 X -
ConstituentConceptualVolumeUID 30100013 U U
ConsultingPhysicianIdentificationSequence 0008009d X - | ConsultingPhysicianName 0008009c Z -
ContainerComponentID 0050001b X - | ContainerDescription 0040051a X D
ContainerIdentifier 00400512 D - | ContentCreatorIdentificationCodeSequence 00700086 X -
ContentCreatorName 00700084 Z/D - | ContentDate 00080023 Z/D FM | ContentSequence 0040a730 D S
ContentTime 00080033 Z/D FM | ContextGroupLocalVersion 00080107 D FM
ContextGroupVersion 00080106 D FM | ContrastBolusAgent 00180010 Z/D D
ContrastBolusStartTime 00181042 X FM | ContrastBolusStopTime 00181043 X FM
ContributionDateTime 0018a002 X FM | ContributionDescription 0018a003 X D
CountryOfResidence 00102150 X - | CreationDate 21000040 X FM | CreationTime 21000050 X FM
CurrentObserverTrial 0040a307 X - | CurrentPatientLocation 00380300 X - | CurveData 50xxxxxx X G
CurveDate 00080025 X FM | CurveTime 00080035 X FM | CustodialOrganizationSequence 0040a07c X -
DataSetTrailingPadding fffcfffc X - | Date 0040a121 D FM
DateOfDocumentOrVerbalTransactionTrial 0040a110 X FM | DateOfInstallation 00181205 X FMV
DateOfLastCalibration 00181200 X FMV | DateOfLastDetectorCalibration 0018700c X/D FMV
DateOfManufacture 00181204 X FMV | DateOfSecondaryCapture 00181012 X FM | DateTime 0040a120 D FM
DateTimeOfLastCalibration 00181202 X FMV | DecayCorrectionDateTime 00189701 D FM
DecompositionDescription 0018937f X D | DerivationDescription 00082111 X D
DestinationAE 21000140 D V | DetectorID 0018700a X/D V | DeviceAlternateIdentifier 3010001b Z -
DeviceDescription 00500020 X V | DeviceLabel 3010002d D V | DeviceSerialNumber 00181000 X/Z/D V
DeviceSettingDescription 0016004b X D | DeviceUID 00181002 U UV
DigitalSignatureDateTime 04000105 D FM | DigitalSignatureUID 04000100 U -
DigitalSignaturesSequence fffafffa X - | DimensionOrganizationUID 00209164 U U
DischargeDate 00380030 X FM | DischargeDiagnosisDescription 00380040 X D
DischargeTime 00380032 X FM | DisplacementReferenceLabel 300a079a X D
DistributionAddress 4008011a X - | DistributionName 40080119 X -
DoseReferenceDescription 300a0016 X D | DoseReferenceUID 300a0013 U U
DosimetricObjectiveUID 3010006e U U | EffectiveDateTime 00686226 D FM
EncapsulatedDocument 00420011 D - | EndAcquisitionDateTime 00189517 X/D FM
EntityDescription 30100037 X D | EntityLabel 30100035 D D | EntityLongLabel 30100038 D D
EntityName 30100036 X D | EquipmentFrameOfReferenceDescription 300a0676 X D
EthicsCommitteeApprovalEffectivenessEndDate 00120087 X FM
EthicsCommitteeApprovalEffectivenessStartDate 00120086 X FM | EthnicGroup 00102160 X P
ExclusionStartDateTime 00189804 D FM | ExpectedCompletionDateTime 00404011 X FM
FailedSOPInstanceUIDList 00080058 U U | FiducialUID 0070031a U U
FillerOrderNumberImagingServiceRequest 00402017 Z - | FilterLookupTableDescription 003a032b X D
FindingsGroupRecordingDateTrial 0040a023 X FM | FindingsGroupRecordingTimeTrial 0040a024 X FM
FirstTreatmentDate 30080054 X/D FM | FixationDeviceDescription 300a0196 X D
FlowIdentifier 00340002 D - | FlowIdentifierSequence 00340001 D -
FractionGroupDescription 300a0072 X D | FractionationNotes 3010007f Z D
FrameAcquisitionDateTime 00189074 D FM | FrameComments 00209158 X D
FrameOfReferenceUID 00200052 U U | FrameOriginTimestamp 00340007 D FM
FrameReferenceDateTime 00189151 D FM | FunctionalSyncPulse 00189623 D FM
GPSAltitude 00160076 X - | GPSAltitudeRef 00160075 X - | GPSAreaInformation 0016008c X -
GPSDOP 0016007b X - | GPSDateStamp 0016008d X FM | GPSDestBearing 00160088 X -
GPSDestBearingRef 00160087 X - | GPSDestDistance 0016008a X - | GPSDestDistanceRef 00160089 X -
GPSDestLatitude 00160084 X - | GPSDestLatitudeRef 00160083 X - | GPSDestLongitude 00160086 X -
GPSDestLongitudeRef 00160085 X - | GPSDifferential 0016008e X - | GPSImgDirection 00160081 X -
GPSImgDirectionRef 00160080 X - | GPSLatitude 00160072 X - | GPSLatitudeRef 00160071 X -
GPSLongitude 00160074 X - | GPSLongitudeRef 00160073 X - | GPSMapDatum 00160082 X -
GPSMeasureMode 0016007a X - | GPSProcessingMethod 0016008b X - | GPSSatellites 00160078 X -
GPSSpeed 0016007d X - | GPSSpeedRef 0016007c X - | GPSStatus 00160079 X -
GPSTimeStamp 00160077 X - | GPSTrack 0016007f X - | GPSTrackRef 0016007e X -
GPSVersionID 00160070 X - | GantryID 00181008 X V | GeneratorID 00181005 X V
GraphicAnnotationSequence 00700001 D G | HL7DocumentEffectiveTime 0040e004 X FM
HangingProtocolCreationDateTime 0072000a D FM | HumanPerformerName 00404037 X -
HumanPerformerOrganization 00404036 X - | IconImageSequence 00880200 X -
IdentifyingComments 00084000 X D | ImageComments 00204000 X D
ImagePresentationComments 00284000 X - | ImagingServiceRequestComments 00402400 X D
ImpedanceMeasurementDateTime 003a0314 D FM | Impressions 40080300 X D
InformationIssueDateTime 00686270 D FM | InstanceCoercionDateTime 00080015 X FM
InstanceCreationDate 00080012 X/D FM | InstanceCreationTime 00080013 X/Z/D FM
InstanceCreatorUID 00080014 U U | InstanceOriginStatus 04000600 X -
InstitutionAddress 00080081 X I | InstitutionCodeSequence 00080082 X/Z/D I
InstitutionName 00080080 X/Z/D I | InstitutionalDepartmentName 00081040 X I
InstitutionalDepartmentTypeCodeSequence 00081041 X I
InstructionPerformedDateTime 00189919 Z/D FM | InsurancePlanIdentification 00101050 X -
IntendedFractionStartTime 30100085 X FM | IntendedPhaseEndDate 3010004d X/D FM
IntendedPhaseStartDate 3010004c X/D FM
IntendedRecipientsOfResultsIdentificationSequence 00401011 X - | InterlockDateTime 300a0741 D FM
InterlockDescription 300a0742 D D | InterlockOriginDescription 300a0783 D D
InterpretationApprovalDate 40080112 X FM | InterpretationApprovalTime 40080113 X FM
InterpretationApproverSequence 40080111 X - | InterpretationAuthor 4008010c X -
InterpretationDiagnosisDescription 40080115 X D | InterpretationID 40080200 X -
InterpretationIDIssuer 40080202 X - | InterpretationRecordedDate 40080100 X FM
InterpretationRecordedTime 40080101 X FM | InterpretationRecorder 40080102 X -
InterpretationText 4008010b X D | InterpretationTranscriber 4008010a X -
InterpretationTranscriptionDate 40080108 X FM | InterpretationTranscriptionTime 40080109 X FM
InterventionDrugStartTime 00180035 X FM | InterventionDrugStopTime 00180027 X FM
IrradiationEventUID 00083010 U U | IssueDateOfImagingServiceRequest 00402004 X FM
IssueTimeOfImagingServiceRequest 00402005 X FM | IssuerOfAdmissionID 00380011 X -
IssuerOfAdmissionIDSequence 00380014 X - | IssuerOfClinicalTrialProtocolID 00120022 X -
IssuerOfClinicalTrialSeriesID 00120073 X - | IssuerOfClinicalTrialSiteID 00120032 X -
IssuerOfClinicalTrialSubjectID 00120041 X - | IssuerOfClinicalTrialSubjectReadingID 00120043 X -
IssuerOfClinicalTrialTimePointID 00120055 X - | IssuerOfPatientID 00100021 X -
IssuerOfServiceEpisodeID 00380061 X - | IssuerOfServiceEpisodeIDSequence 00380064 X -
IssuerOfTheContainerIdentifierSequence 00400513 Z -
IssuerOfTheSpecimenIdentifierSequence 00400562 Z - | LabelText 22000002 X/Z D
LargePaletteColorLookupTableUID 00281214 U U | LastMenstrualDate 001021d0 X FM
LensMake 0016004f X V | LensModel 00160050 X V | LensSerialNumber 00160051 X V
LensSpecification 0016004e X V | LongDeviceDescription 00500021 X D | MAC 04000404 X -
MakerNote 0016002b X D | ManufacturerDeviceClassUID 0018100b U UV
ManufacturerDeviceIdentifier 30100043 Z V | MediaStorageSOPInstanceUID 00020003 U U
MedicalAlerts 00102000 X D | MedicalRecordLocator 00101090 X - | MilitaryRank 00101080 X -
ModifiedAttributesSequence 04000550 X - | ModifiedImageDate 00203403 X FM
ModifiedImageDescription 00203406 X - | ModifiedImageTime 00203405 X FM
ModifyingDeviceID 00203401 X V | ModifyingSystem 04000563 D V
MostRecentTreatmentDate 30080056 X/D FM | MultienergyAcquisitionDescription 0018937b X D
MultiplexGroupUID 003a0310 U U | NameOfPhysiciansReadingStudy 00081060 X -
NamesOfIntendedRecipientsOfResults 00401010 X - | NetworkID 00081000 X V
NonconformingDataElementValue 04000552 X -
NonconformingModifiedAttributesSequence 04000551 X - | ObservationDateTime 0040a032 X/D FM
ObservationDateTrial 0040a192 X FM | ObservationStartDateTime 0040a033 X FM
ObservationSubjectUIDTrial 0040a402 U U | ObservationTimeTrial 0040a193 X FM
ObservationUID 0040a171 U U | Occupation 00102180 X D
OperatorIdentificationSequence 00081072 X/D - | OperatorsName 00081070 X/Z/D -
OrderCallbackPhoneNumber 00402010 X - | OrderCallbackTelecomInformation 00402011 X -
OrderEnteredBy 00402008 X - | OrderEntererLocation 00402009 X -
OriginalAttributesSequence 04000561 X - | Originator 21000070 X V
OtherClinicalTrialProtocolIDsSequence 00120023 X - | OtherPatientIDs 00101000 X -
OtherPatientIDsSequence 00101002 X - | OtherPatientNames 00101001 X -
OverlayComments 60xx4000 X G | OverlayData 60xx3000 X G | OverlayDate 00080024 X FM
OverlayTime 00080034 X FM | OverrideDateTime 300a0760 D FM
PaletteColorLookupTableUID 00281199 U U | ParticipantSequence 0040a07a X -
ParticipationDateTime 0040a082 Z FM | PatientAddress 00101040 X - | PatientAge 00101010 X P
PatientBirthDate 00100030 Z - | PatientBirthName 00101005 X - | PatientBirthTime 00100032 X -
PatientComments 00104000 X D | PatientID 00100020 Z/D -
PatientInstitutionResidence 00380400 X - | PatientInsurancePlanCodeSequence 00100050 X -
PatientMotherBirthName 00101060 X - | PatientName 00100010 Z -
PatientPrimaryLanguageCodeSequence 00100101 X -
PatientPrimaryLanguageModifierCodeSequence 00100102 X -
PatientReligiousPreference 001021f0 X - | PatientSetupPhotoDescription 300a0794 X D
PatientSetupUID 300a0650 U U | PatientSex 00100040 Z P | PatientSexNeutered 00102203 X/Z P
PatientSize 00101020 X P | PatientState 00380500 X DP | PatientTelecomInformation 00102155 X -
PatientTelephoneNumbers 00102154 X - | PatientTransportArrangements 00401004 X -
PatientTreatmentPreparationMethodDescription 300a0792 X D
PatientTreatmentPreparationProcedureParameterDescription 300a078e X D
PatientWeight 00101030 X P | PerformedLocation 00400243 X -
PerformedProcedureStepDescription 00400254 X D | PerformedProcedureStepEndDate 00400250 X FM
PerformedProcedureStepEndDateTime 00404051 X FM | PerformedProcedureStepEndTime 00400251 X FM
PerformedProcedureStepID 00400253 X - | PerformedProcedureStepStartDate 00400244 X FM
PerformedProcedureStepStartDateTime 00404050 X FM
PerformedProcedureStepStartTime 00400245 X FM | PerformedStationAETitle 00400241 X V
PerformedStationGeographicLocationCodeSequence 00404030 X V | PerformedStationName 00400242 X V
PerformedStationNameCodeSequence 00404028 X V
PerformingPhysicianIdentificationSequence 00081052 X - | PerformingPhysicianName 00081050 X -
PersonAddress 00401102 X - | PersonIdentificationCodeSequence 00401101 D -
PersonName 0040a123 D - | PersonTelecomInformation 00401104 X -
PersonTelephoneNumbers 00401103 X - | PhysicianApprovingInterpretation 40080114 X -
PhysiciansOfRecord 00081048 X - | PhysiciansOfRecordIdentificationSequence 00081049 X -
PhysiciansReadingStudyIdentificationSequence 00081062 X -
PlacerOrderNumberImagingServiceRequest 00402016 Z - | PlateID 00181004 X V
PositionAcquisitionTemplateDescription 30020123 X D
PositionAcquisitionTemplateName 30020121 X D | PreMedication 00400012 X P
PregnancyStatus 001021c0 X P | PrescriptionDescription 300a000e X D
PrescriptionNotes 3010007b Z D | PrescriptionNotesSequence 30100081 Z D
PresentationCreationDate 00700082 X FM | PresentationCreationTime 00700083 X FM
PresentationDisplayCollectionUID 00701101 U U | PresentationSequenceCollectionUID 00701102 U U
PriorTreatmentDoseDescription 30100061 X D | ProcedureStepCancellationDateTime 00404052 X FM
ProductExpirationDateTime 0044000b X FM | ProtocolName 00181030 X/D D
PyramidDescription 00081088 X D | PyramidLabel 00200027 X D | PyramidUID 00080019 U U
ROICreatorSequence 3006004d X - | ROIDateTime 3006002d X FM | ROIDescription 30060028 X D
ROIGenerationDescription 30060038 X D | ROIInterpreter 300600a6 Z -
ROIInterpreterSequence 3006004e X - | ROIName 30060026 Z D
ROIObservationDateTime 3006002e X FM | ROIObservationDescription 30060088 X D
ROIObservationLabel 30060085 X D | RTAccessoryDeviceSlotID 300a0615 Z -
RTAccessoryHolderSlotID 300a0611 Z - | RTPhysicianIntentNarrative 3010005a Z D
RTPlanDate 300a0006 X/D FM | RTPlanDescription 300a0004 X D | RTPlanLabel 300a0002 D D
RTPlanName 300a0003 X D | RTPlanTime 300a0007 X/D FM | RTPrescriptionLabel 30100054 D D
RTToleranceSetLabel 300a062a D D | RTTreatmentApproachLabel 30100056 X/D D
RTTreatmentPhaseUID 3010003b U U | RadiationDoseIdentificationLabel 300a0619 D D
RadiationDoseInVivoMeasurementLabel 300a0623 D D
RadiationGenerationModeDescription 300a067d Z D | RadiationGenerationModeLabel 300a067c D D
RadiopharmaceuticalStartDateTime 00181078 X FM | RadiopharmaceuticalStartTime 00181072 X FM
RadiopharmaceuticalStopDateTime 00181079 X FM | RadiopharmaceuticalStopTime 00181073 X FM
ReasonForOmissionDescription 300c0113 X D | ReasonForRequestedProcedureCodeSequence 0040100a X D
ReasonForStudy 00321030 X D | ReasonForSuperseding 3010005c Z D
ReasonForTheAttributeModification 04000565 D D | ReasonForTheImagingServiceRequest 00402001 X D
ReasonForTheRequestedProcedure 00401002 X D | ReasonForVisit 00321066 X D
ReasonForVisitCodeSequence 00321067 X D | ReceivingAE 00741234 X V
RecordedRTControlPointDateTime 300a073a D FM | ReferencedConceptualVolumeUID 3010000b U U
ReferencedDateTime 0040a13a D FM | ReferencedDigitalSignatureSequence 04000402 X -
ReferencedDoseReferenceUID 300a0083 U U | ReferencedDosimetricObjectiveUID 3010006f U U
ReferencedFiducialsUID 30100031 U U | ReferencedFrameOfReferenceUID 30060024 U U
ReferencedGeneralPurposeScheduledProcedureStepTransactionUID 00404023 U U
ReferencedImageSequence 00081140 X/Z/U* U | ReferencedObservationUIDTrial 0040a172 U U
ReferencedPatientAliasSequence 00380004 X - | ReferencedPatientPhotoSequence 00101100 X -
ReferencedPatientSequence 00081120 X U
ReferencedPerformedProcedureStepSequence 00081111 X/Z/D U
ReferencedSOPInstanceMACSequence 04000403 X - | ReferencedSOPInstanceUID 00081155 U U
ReferencedSOPInstanceUIDInFile 00041511 U U | ReferencedStudySequence 00081110 X/Z U
ReferencedTreatmentPositionGroupUID 300a0785 U U | ReferringPhysicianAddress 00080092 X -
ReferringPhysicianIdentificationSequence 00080096 X - | ReferringPhysicianName 00080090 Z -
ReferringPhysicianTelephoneNumbers 00080094 X - | RegionOfResidence 00102152 X -
RelatedFrameOfReferenceUID 300600c2 U U | RequestAttributesSequence 00400275 X D
RequestedContrastAgent 00321070 X D | RequestedProcedureComments 00401400 X D
RequestedProcedureDescription 00321060 X/Z D | RequestedProcedureID 00401001 X -
RequestedProcedureLocation 00401005 X - | RequestedSOPInstanceUID 00001001 U U
RequestedSeriesDescription 00189937 X D | RequestingAE 00741236 X V
RequestingPhysician 00321032 X - | RequestingService 00321033 X -
RespiratoryMotionCompensationTechniqueDescription 00189185 X D
ResponsibleOrganization 00102299 X - | ResponsiblePerson 00102297 X -
ResultsComments 40084000 X D | ResultsDistributionListSequence 40080118 X -
ResultsID 40080040 X - | ResultsIDIssuer 40080042 X - | RetrieveAETitle 00080054 X V
ReviewDate 300e0004 Z FM | ReviewTime 300e0005 Z FM | ReviewerName 300e0008 X/Z -
SOPAuthorizationDateTime 01000420 X FM | SOPInstanceUID 00080018 U U
SafePositionExitDate 30080162 D FM | SafePositionExitTime 30080164 D FM
SafePositionReturnDate 30080166 D FM | SafePositionReturnTime 30080168 D FM
ScheduledAdmissionDate 0038001a X FM | ScheduledAdmissionTime 0038001b X FM
ScheduledDischargeDate 0038001c X FM | ScheduledDischargeTime 0038001d X FM
ScheduledHumanPerformersSequence 00404034 X -
ScheduledPatientInstitutionResidence 0038001e X -
ScheduledPerformingPhysicianIdentificationSequence 0040000b X -
ScheduledPerformingPhysicianName 00400006 X - | ScheduledProcedureStepDescription 00400007 X D
ScheduledProcedureStepEndDate 00400004 X FM | ScheduledProcedureStepEndTime 00400005 X FM
ScheduledProcedureStepExpirationDateTime 00404008 X FM | ScheduledProcedureStepID 00400009 X -
ScheduledProcedureStepLocation 00400011 X V
ScheduledProcedureStepModificationDateTime 00404010 X FM
ScheduledProcedureStepStartDate 00400002 X FM
ScheduledProcedureStepStartDateTime 00404005 X FM
ScheduledProcedureStepStartTime 00400003 X FM | ScheduledStationAETitle 00400001 X V
ScheduledStationGeographicLocationCodeSequence 00404027 X V | ScheduledStationName 00400010 X V
ScheduledStationNameCodeSequence 00404025 X V | ScheduledStudyLocation 00321020 X V
ScheduledStudyLocationAETitle 00321021 X V | ScheduledStudyStartDate 00321000 X FM
ScheduledStudyStartTime 00321001 X FM | ScheduledStudyStopDate 00321010 X FM
ScheduledStudyStopTime 00321011 X FM | SelectorAEValue 0072005e D V
SelectorASValue 0072005f D P | SelectorDAValue 00720061 D FM | SelectorDTValue 00720063 D FM
SelectorLOValue 00720066 D D | SelectorLTValue 00720068 D D | SelectorOBValue 00720065 D -
SelectorPNValue 0072006a D - | SelectorSHValue 0072006c D D | SelectorSTValue 0072006e D D
SelectorTMValue 0072006b D FM | SelectorUNValue 0072006d D - | SelectorURValue 00720071 D -
SelectorUTValue 00720070 D D | SeriesDate 00080021 X/D FM | SeriesDescription 0008103e X D
SeriesInstanceUID 0020000e U U | SeriesTime 00080031 X/D FM
ServiceEpisodeDescription 00380062 X D | ServiceEpisodeID 00380060 X -
SetupTechniqueDescription 300a01b2 X D | ShieldingDeviceDescription 300a01a6 X D
SlideIdentifier 004006fa X - | SmokingStatus 001021a0 X P
SourceConceptualVolumeUID 30100015 U U | SourceEndDateTime 0018936a D FM
SourceFrameOfReferenceUID 00640003 U U | SourceIdentifier 00340005 D -
SourceImageSequence 00082112 X/Z/U* U | SourceManufacturer 300a0216 X V
SourceOfPreviousValues 04000564 Z I | SourceSerialNumber 30080105 X/Z V
SourceStartDateTime 00189369 D FM | SourceStrengthReferenceDate 300a022c D FM
SourceStrengthReferenceTime 300a022e D FM | SpecialNeeds 00380050 X P
SpecimenAccessionNumber 0040050a X - | SpecimenDetailedDescription 00400602 X D
SpecimenIdentifier 00400551 D - | SpecimenPreparationSequence 00400610 Z S
SpecimenShortDescription 00400600 X D | SpecimenUID 00400554 U U
StartAcquisitionDateTime 00189516 X/D FM | StationAETitle 00080055 X V
StationName 00081010 X/Z/D V | StorageMediaFileSetUID 00880140 U U
StructureSetDate 30060008 Z FM | StructureSetDescription 30060006 X D
StructureSetLabel 30060002 D D | StructureSetName 30060004 X D | StructureSetTime 30060009 Z FM
StudyArrivalDate 00321040 X FM | StudyArrivalTime 00321041 X FM | StudyComments 00324000 X D
StudyCompletionDate 00321050 X FM | StudyCompletionTime 00321051 X FM | StudyDate 00080020 Z FM
StudyDescription 00081030 X D | StudyID 00200010 Z - | StudyIDIssuer 00320012 X -
StudyInstanceUID 0020000d U U | StudyReadDate 00320034 X FM | StudyReadTime 00320035 X FM
StudyTime 00080030 Z FM | StudyVerifiedDate 00320032 X FM | StudyVerifiedTime 00320033 X FM
SubstanceAdministrationDateTime 00440010 X FM | SynchronizationFrameOfReferenceUID 00200200 U U
TargetUID 00182042 U U | TelephoneNumberTrial 0040a354 X -
TemplateExtensionCreatorUID 0040db0d U U | TemplateExtensionOrganizationUID 0040db0c U U
TemplateLocalVersion 0040db07 X FM | TemplateVersion 0040db06 X FM | TextComments 40004000 X -
TextString 20300020 X - | Time 0040a122 D FM
TimeOfDocumentCreationOrVerbalTransactionTrial 0040a112 X FM
TimeOfLastCalibration 00181201 X FMV | TimeOfLastDetectorCalibration 0018700e X/D FMV
TimeOfSecondaryCapture 00181014 X FM | TimezoneOffsetFromUTC 00080201 X FM
TopicAuthor 00880910 X - | TopicKeywords 00880912 X - | TopicSubject 00880906 X -
TopicTitle 00880904 X - | TrackingUID 00620021 U U | TransactionUID 00081195 U U
TransducerIdentificationSequence 00185011 X V | TreatmentControlPointDate 30080024 D FM
TreatmentControlPointTime 30080025 D FM | TreatmentDate 30080250 X/D FM
TreatmentMachineName 300a00b2 X/Z V | TreatmentPositionGroupLabel 300a0608 D D
TreatmentPositionGroupUID 300a0609 U U | TreatmentSessionUID 300a0700 U U
TreatmentSite 30100077 X/D D | TreatmentSites 300a000b X D
TreatmentTechniqueNotes 3010007a Z D | TreatmentTime 30080251 X/D FM
TreatmentToleranceViolationDateTime 300a0736 D FM
TreatmentToleranceViolationDescription 300a0734 D D | UDISequence 0018100a X V
UID 0040a124 U - | UniqueDeviceIdentifier 00181009 X V | UserContentLabel 30100033 D D
UserContentLongLabel 30100034 D D | VerbalSourceIdentifierCodeSequenceTrial 0040a358 X -
VerbalSourceTrial 0040a352 X - | VerificationDateTime 0040a030 D FM
VerifyingObserverIdentificationCodeSequence 0040a088 Z - | VerifyingObserverName 0040a075 D -
VerifyingObserverSequence 0040a073 D - | VerifyingOrganization 0040a027 D -
VisitComments 00384000 X D | WaveformFilterDescription 003a0329 X D
XRayDetectorID 00189371 D V | XRayDetectorLabel 00189373 X V | XRaySourceID 00189367 D V
"""


def _parse(table: str) -> tuple[ProfileAttribute, ...]:
    words = table.replace("|", " ").split()
    if len(words) % 4:
        raise AssertionError("Annex E table: entries must have four fields")
    out = []
    for i in range(0, len(words), 4):
        keyword, tag, action, letters = words[i : i + 4]
        repeating = "x" in tag
        group = int(tag[:4].replace("x", "0"), 16)
        element = -1 if "x" in tag[4:] else int(tag[4:], 16)
        options = frozenset(OPTION_CODES[c] for c in letters if c != "-")
        out.append(ProfileAttribute(keyword, group, element, repeating, action, options))
    return tuple(out)


PROFILE: tuple[ProfileAttribute, ...] = _parse(_TABLE)
BY_TAG: dict[int, ProfileAttribute] = {
    (a.group << 16) | a.element: a for a in PROFILE if not a.repeating
}
REPEATING: tuple[ProfileAttribute, ...] = tuple(a for a in PROFILE if a.repeating)
