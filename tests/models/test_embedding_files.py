"""load_embeddings: .npy and Parquet files, and every error it names."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelwise import InvalidParameterError
from labelwise.models import check_embeddings, load_embeddings

X = np.arange(12, dtype=np.float64).reshape(4, 3) / 7


def test_npy(tmp_path):
    f = tmp_path / "e.npy"
    np.save(f, X)
    out = load_embeddings(f, n_items=4)
    assert out.dtype == np.float32 and np.array_equal(out, X.astype(np.float32))
    np.save(f, X.astype(np.int16))  # integers are numbers too
    assert load_embeddings(f).shape == (4, 3)


def test_parquet_list_column_with_an_id_column(tmp_path):
    f = tmp_path / "e.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "emb": list(X)}), f)
    assert np.array_equal(load_embeddings(f, 4), X.astype(np.float32))
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), 3)
    pq.write_table(pa.table({"vec": fixed}), f)
    assert np.array_equal(load_embeddings(f), X.astype(np.float32))


def test_parquet_float_columns(tmp_path):
    f = tmp_path / "e.parquet"
    pd.DataFrame(X, columns=["d0", "d1", "d2"]).to_parquet(f)
    assert np.array_equal(load_embeddings(f, 4), X.astype(np.float32))


def test_parquet_choose_among_list_columns(tmp_path):
    f = tmp_path / "e.parquet"
    pq.write_table(pa.table({"a": list(X), "b": list(2 * X)}), f)
    with pytest.raises(InvalidParameterError, match="several list columns"):
        load_embeddings(f)
    assert np.allclose(load_embeddings(f, column="b"), 2 * X)
    with pytest.raises(InvalidParameterError, match="no list column 'c'"):
        load_embeddings(f, column="c")


def test_row_count_names_both_counts(tmp_path):
    f = tmp_path / "e.npy"
    np.save(f, X)
    with pytest.raises(InvalidParameterError, match="have 4 rows, but there are 5"):
        load_embeddings(f, n_items=5)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.zeros(5), "2-D"),
        (np.zeros((2, 3, 4)), "2-D"),
        (np.zeros((0, 3)), "2-D"),
        (np.array([["a", "b"]]), "real numbers"),
        (np.array([[1 + 1j]]), "real numbers"),
        (
            np.array([[0.0, np.nan], [1.0, 2.0], [np.inf, 0]]),
            r"2 row\(s\), first at rows \[0, 2\]",
        ),
        (np.array([[1e300]]), "float32 range"),
    ],
)
def test_array_errors(tmp_path, value, match):
    f = tmp_path / "e.npy"
    np.save(f, value)
    with pytest.raises(InvalidParameterError, match=match):
        load_embeddings(f)
    with pytest.raises(InvalidParameterError, match=match):
        check_embeddings(value)


def test_object_npy(tmp_path):
    f = tmp_path / "e.npy"
    np.save(f, np.array([[1.0, None]], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidParameterError, match="dtype object"):
        load_embeddings(f)


def test_file_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"\.npy or \.parquet"):
        load_embeddings(tmp_path / "e.csv")
    with pytest.raises(InvalidParameterError, match="does not exist"):
        load_embeddings(tmp_path / "e.npy")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(InvalidParameterError, match="as Parquet"):
        load_embeddings(bad)
    f = tmp_path / "e.npy"
    np.save(f, X)
    with pytest.raises(InvalidParameterError, match="Parquet"):
        load_embeddings(f, column="emb")


def test_parquet_cell_errors(tmp_path):
    f = tmp_path / "e.parquet"
    pq.write_table(pa.table({"emb": [[1.0, 2.0], [3.0]]}), f)
    with pytest.raises(
        InvalidParameterError, match=r"different lengths \(2 in row 0, 1 in row 1\)"
    ):
        load_embeddings(f)
    pq.write_table(pa.table({"emb": [[1.0, 2.0], None]}), f)
    with pytest.raises(InvalidParameterError, match="1 empty cell"):
        load_embeddings(f)
    pq.write_table(pa.table({"emb": [[1.0, None], [1.0, 2.0]]}), f)
    with pytest.raises(InvalidParameterError, match="NaN or infinite"):
        load_embeddings(f)
    pq.write_table(pa.table({"emb": [["a"], ["b"]]}), f)
    with pytest.raises(InvalidParameterError, match="not numbers"):
        load_embeddings(f)
    pd.DataFrame({"id": [1, 2], "d0": [0.5, 0.1]}).to_parquet(f)
    with pytest.raises(InvalidParameterError, match=r"these are not: \['id'\]"):
        load_embeddings(f)


def test_ragged_rows_are_named():
    # numpy's "inhomogeneous shape" ValueError came through
    with pytest.raises(InvalidParameterError, match="rows of different lengths"):
        check_embeddings([[1.0, 2.0], [3.0]])
