"""The preprocessing vocabulary: one pydantic model per step term, with typed parameters.

A step is ``{"term": NAME, ...its parameters}``; ``Step`` validates any of them by its
``term`` (a discriminated union), so an unknown term or parameter is refused by name. Each
term carries the DICOM code of PS3.16 CID 7203 (Image Derivation) or CID 7050
(De-identification Method) where one exists, and the C2PA action name: docs/vocabulary.md.

Decimal parameters are strings (``"0.5"``): the log holds no floats. The models live in
ledger/model because the image.derived body validates its steps with them;
``ledger.lineage.vocabulary`` is the user-facing side (parsing ``NAME:k=v,...``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

DECIMAL = r"^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,12})?$"
Decimal = Annotated[str, Field(pattern=DECIMAL, description="a decimal number as a string")]
PositiveInt = Annotated[int, Field(ge=1, le=2**31 - 1)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Text = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
ParamName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
FORMATS = ("dicom", "png", "jpeg", "jpeg2000", "tiff", "bmp", "webp", "nifti", "nrrd", "heic")
Format = Literal["dicom", "png", "jpeg", "jpeg2000", "tiff", "bmp", "webp", "nifti", "nrrd",
                 "heic"]
DCM = "DCM"  # coding scheme of the DICOM codes below


class Term(BaseModel):
    """A step's term and parameters. Subclasses set ``term`` (the discriminator), the DICOM
    code (CID 7203 / 7050, None when the standard has none) and the C2PA action."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    dicom: ClassVar[tuple[str, str] | None] = None  # (code value, code meaning)
    c2pa: ClassVar[str] = "c2pa.edited"
    summary: ClassVar[str] = ""

    def dicom_codes(self) -> list[tuple[str, str]]:
        """The DICOM codes of this step (a de-identification step has one per option)."""
        return [] if self.dicom is None else [self.dicom]

    def c2pa_action(self) -> str:
        return self.c2pa


class Resize(Term):
    term: Literal["resize"]
    width: PositiveInt
    height: PositiveInt
    method: Literal["nearest", "bilinear", "bicubic", "lanczos", "area"] | None = None
    dicom = ("113085", "Spatial resampling")
    c2pa = "c2pa.resized"
    summary = "scale to width x height pixels"


class Crop(Term):
    term: Literal["crop"]
    x: Count
    y: Count
    width: PositiveInt
    height: PositiveInt
    c2pa = "c2pa.cropped"
    summary = "keep the box at (x, y) of width x height"


class Pad(Term):
    term: Literal["pad"]
    top: Count = 0
    bottom: Count = 0
    left: Count = 0
    right: Count = 0
    value: Decimal | None = None
    c2pa = "c2pa.resized"
    summary = "add borders (pixels) filled with value"


class Orient(Term):
    """Flip and rotation: ``dihedral`` is one of the 8 symmetries of the square (0: none,
    1-3: rotation by 90/180/270 degrees counter-clockwise, 4: horizontal flip, 5-7: flip
    then rotation), ``angle`` a free rotation in degrees."""

    term: Literal["orient"]
    dihedral: Annotated[int, Field(ge=0, le=7)] = 0
    angle: Decimal | None = None
    c2pa = "c2pa.orientation"
    summary = "flip/rotate: dihedral 0-7, or a free angle in degrees"


class Resample(Term):
    term: Literal["resample"]
    spacing: Annotated[list[Decimal], Field(min_length=1, max_length=3)]
    interpolation: Literal["nearest", "linear", "bspline", "sinc"] | None = None
    dicom = ("113085", "Spatial resampling")
    c2pa = "c2pa.resized"
    summary = "new pixel spacing (mm per axis)"


class Window(Term):
    term: Literal["window"]
    center: Decimal
    width: Decimal
    function: Literal["linear", "linear_exact", "sigmoid"] | None = None
    c2pa = "c2pa.color_adjustments"
    summary = "VOI window: center and width"


class Normalise(Term):
    term: Literal["normalise"]
    method: Literal["minmax", "zscore", "percentile", "scale"]
    parameters: dict[ParamName, Decimal] = Field(default_factory=dict, max_length=16)
    c2pa = "c2pa.color_adjustments"
    summary = "intensity normalisation"


class Equalise(Term):
    term: Literal["equalise"]
    method: Literal["global", "clahe"]
    clip_limit: Decimal | None = None
    tiles: Annotated[int, Field(ge=1, le=256)] | None = None
    c2pa = "c2pa.color_adjustments"
    summary = "histogram equalisation (global or CLAHE)"


class BitDepth(Term):
    term: Literal["bit_depth"]
    bits: Annotated[int, Field(ge=1, le=32)]
    from_bits: Annotated[int, Field(ge=1, le=64)] | None = None
    c2pa = "c2pa.color_adjustments"
    summary = "reduce the stored bits per sample"


class Convert(Term):
    """A change of file format. ``lossless``: the decoded pixels are unchanged (checked)."""

    term: Literal["convert"]
    from_format: Format = Field(alias="from")
    to_format: Format = Field(alias="to")
    lossless: bool = False
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False,
                              serialize_by_alias=True)
    c2pa = "c2pa.converted"
    summary = "file format conversion; lossless=true promises the same pixels"


class Compress(Term):
    term: Literal["compress"]
    codec: Literal["jpeg", "jpeg2000", "jpeg-ls", "webp", "heic", "avif"]
    quality: Annotated[int, Field(ge=1, le=100)] | None = None
    ratio: Decimal | None = None
    dicom = ("113040", "Lossy Compression")
    c2pa = "c2pa.transcoded"
    summary = "lossy compression: codec with quality or ratio"

    @model_validator(mode="after")
    def _quality_or_ratio(self) -> Compress:
        if (self.quality is None) == (self.ratio is None):
            raise ValueError("compress needs quality or ratio (one of them)")
        return self


DEID_OPTIONS: dict[str, str] = {  # PS3.16 CID 7050, the PS3.15 Annex E options
    "113101": "Clean Pixel Data Option",
    "113102": "Clean Recognizable Visual Features Option",
    "113103": "Clean Graphics Option",
    "113104": "Clean Structured Content Option",
    "113105": "Clean Descriptors Option",
    "113106": "Retain Longitudinal Temporal Information Full Dates Option",
    "113107": "Retain Longitudinal Temporal Information Modified Dates Option",
    "113108": "Retain Patient Characteristics Option",
    "113109": "Retain Device Identity Option",
    "113110": "Retain UIDs Option",
    "113111": "Retain Safe Private Option",
    "113112": "Retain Institution Identity Option",
}
DeidOption = Literal["113101", "113102", "113103", "113104", "113105", "113106", "113107",
                     "113108", "113109", "113110", "113111", "113112"]


class Deidentify(Term):
    term: Literal["deidentify"]
    profile: Literal["113100"] = "113100"
    options: Annotated[list[DeidOption], Field(max_length=12)] = Field(default_factory=list)
    dicom = ("113100", "Basic Application Confidentiality Profile")
    c2pa = "c2pa.edited.metadata"
    summary = "PS3.15 Annex E profile and options (CID 7050 codes)"

    @model_validator(mode="after")
    def _sorted(self) -> Deidentify:
        if self.options != sorted(set(self.options)):
            raise ValueError("options must be sorted and without repeats")
        return self

    def dicom_codes(self) -> list[tuple[str, str]]:
        return [("113100", "Basic Application Confidentiality Profile"),
                *((code, DEID_OPTIONS[code]) for code in self.options)]


class Deface(Term):
    term: Literal["deface"]
    algorithm: Text
    version: Text | None = None
    dicom = ("113102", "Clean Recognizable Visual Features Option")
    c2pa = "c2pa.removed"
    summary = "remove the face from a head image"


_AUGMENT_ACTIONS = {"noise": "c2pa.filtered", "affine": "c2pa.orientation",
                    "colour": "c2pa.color_adjustments"}


class Augment(Term):
    term: Literal["augment"]
    kind: Literal["noise", "affine", "colour"]
    parameters: dict[ParamName, Decimal] = Field(default_factory=dict, max_length=16)
    seed: Count | None = None
    summary = "training augmentation: noise, affine or colour, with its parameters"

    def c2pa_action(self) -> str:
        return _AUGMENT_ACTIONS[self.kind]


class Register(Term):
    term: Literal["register"]
    algorithm: Text
    version: Text | None = None
    transform: Literal["rigid", "affine", "deformable"] | None = None
    summary = "spatial registration to a reference"

    def dicom_codes(self) -> list[tuple[str, str]]:
        return [("125027", "Deformed for Registration")] if self.transform == "deformable" else []


class Segment(Term):
    term: Literal["segment"]
    method: Literal["manual", "algorithm"]
    algorithm: Text | None = None
    version: Text | None = None
    dicom = ("113076", "Segmentation")
    c2pa = "c2pa.drawing"
    summary = "segmentation or annotation: manual, or an algorithm and its version"

    @model_validator(mode="after")
    def _algorithm_named(self) -> Segment:
        if (self.method == "algorithm") != (self.algorithm is not None):
            raise ValueError("segment names an algorithm exactly when method is algorithm")
        return self


class Smooth(Term):
    term: Literal["smooth"]
    method: Literal["gaussian", "median", "box"]
    sigma: Decimal | None = None
    dicom = ("113087", "Smoothing")
    c2pa = "c2pa.filtered"
    summary = "smoothing filter"

    def dicom_codes(self) -> list[tuple[str, str]]:
        if self.method == "gaussian":
            return [("113088", "Gaussian blur")]
        return [("113087", "Smoothing")]


class Sharpen(Term):
    term: Literal["sharpen"]
    radius: Decimal | None = None
    amount: Decimal | None = None
    dicom = ("113089", "Unsharp mask")
    c2pa = "c2pa.filtered"
    summary = "unsharp mask"


class Filter(Term):
    term: Literal["filter"]
    vendor: Text
    name: Text
    version: Text | None = None
    c2pa = "c2pa.filtered"
    summary = "a smartphone or AI filter: vendor, name, version if known"


class Synthesise(Term):
    term: Literal["synthesise"]
    model: Text
    version: Text | None = None
    c2pa = "c2pa.created"
    summary = "generated by a model (the parent is its conditioning input)"


TERMS: tuple[type[Term], ...] = (
    Resize, Crop, Pad, Orient, Resample, Window, Normalise, Equalise, BitDepth, Convert,
    Compress, Deidentify, Deface, Augment, Register, Segment, Smooth, Sharpen, Filter,
    Synthesise,
)
TERM_NAMES: dict[str, type[Term]] = {
    str(get_args(t.model_fields["term"].annotation)[0]): t for t in TERMS
}

Step = Annotated[
    Resize | Crop | Pad | Orient | Resample | Window | Normalise | Equalise | BitDepth | Convert
    | Compress | Deidentify | Deface | Augment | Register | Segment | Smooth | Sharpen | Filter
    | Synthesise,
    Field(discriminator="term"),
]
STEP = TypeAdapter(Step)
